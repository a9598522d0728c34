"""Importers for agents trained with other libraries, into the shared checkpoint format.

    library                    algorithms (the default Atari network)         outputs    acting
    Stable-Baselines3 (.zip)   DQN                                            q_values   greedy
    sb3-contrib (.zip)         QR-DQN (Q-values: the mean over quantiles)     q_values   greedy
    Stable-Baselines3 (.zip)   PPO, A2C (shared or separate extractors)       logits     sample
    CleanRL (state dict)       dqn_atari                                      q_values   greedy
    CleanRL (state dict)       ppo_atari, ppo_atari_envpool                   logits     sample
    CleanRL (Flax, optional)   dqn_atari_jax / ppo_atari_envpool_xla_jax_scan  as above

Every one is the Nature-DQN torso and one linear output layer, imported as a `NatureDQN`
whose outputs reproduce the library's own (tests/common/importers/). An imported expert records
what its outputs are (`outputs`), how the library plays it (`acting`: PPO and A2C agents are
evaluated by sampling from their policy), which library and algorithm trained it
(`provenance`), and the library's Atari protocol (FIRE at reset and after a lost life:
`expert.library_protocol`), which `amn collect` and `amn evaluate` then play unless told
otherwise. Any other kind of checkpoint is refused in one line naming the supported ones.
"""

from actor_mimic.common.importers.cleanrl import import_cleanrl
from actor_mimic.common.importers.expert import library_protocol
from actor_mimic.common.importers.sb3 import import_sb3

__all__ = ["import_cleanrl", "import_sb3", "library_protocol"]
