"""What a store's teacher is: the kind of its stored outputs, and the library that trained it.

A store's `q_values` arrays hold the expert's outputs over the game's actions: Q-values (a DQN,
QR-DQN's mean over quantiles, the default of stores that predate the record) or the action
logits of a policy-gradient teacher (PPO, A2C). The collection records which in the expert's
record (`expert.outputs`, with `library` and `algorithm`, collect/metadata.py); a merged store
keeps one expert record per collection, all of one expert (`amn dataset merge` checks it).
"""

from __future__ import annotations

TEACHER_OUTPUTS = ("q_values", "logits")


def expert_record(attrs: dict) -> dict:
    """The expert record of a store's document (a merged store's: its first collection's)."""
    expert = attrs.get("expert")
    if not isinstance(expert, dict) or not expert:
        sources = attrs.get("sources") or [{}]
        expert = sources[0].get("expert") if isinstance(sources[0], dict) else None
    return expert if isinstance(expert, dict) else {}


def teacher_outputs(attrs: dict) -> str:
    """ "q_values" or "logits": what the store's `q_values` arrays hold."""
    expert = expert_record(attrs)
    outputs = expert.get("outputs") or (expert.get("metadata") or {}).get("outputs") or "q_values"
    return outputs if outputs in TEACHER_OUTPUTS else "q_values"


def teacher_source(attrs: dict) -> str:
    """ "stable-baselines3 ppo", "cleanrl dqn", ... or "" when the store does not say."""
    expert = expert_record(attrs)
    provenance = (expert.get("metadata") or {}).get("provenance") or {}
    parts = [expert.get("library") or provenance.get("library"), expert.get("algorithm") or provenance.get("algorithm")]
    return " ".join(str(part) for part in parts if part)
