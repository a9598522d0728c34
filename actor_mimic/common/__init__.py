"""Shared building blocks: environments, networks, checkpoints and the teacher-store schema.

Nothing in here imports from collect/, datasets/, distill/ or transfer/.
"""
