"""Pipelines that span stages: they call the stages' Python functions, never their command lines.

    student_round.py   `amn distill round`: the AMN acts, the experts label (collect), the
                       fit resumes on the new stores (distill)
    evaluate.py        `amn evaluate`: experts and AMNs play the games; the paper's table
    diagnosis/         `amn diagnose`: where a student fails (on-policy agreement and KL, the
                       states before each lost life, their presence in the teacher stores) and
                       what a DQN's Q-values do in its first updates
    dataset_build.py   `amn dataset build PLAN.yaml`: every shard of a plan (plan.py) collected,
                       verified or pushed (shard_job.py), by local processes, submitit or Dask
                       (executors.py); the dataset's record and card (dataset_card.py)

This package sits above collect, datasets, distill and transfer: it may import any of them,
and only `actor_mimic.cli` imports it.
"""
