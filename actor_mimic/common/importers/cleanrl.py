"""CleanRL's Atari agents: `dqn_atari` and `ppo_atari` PyTorch state dicts, and its Flax models.

CleanRL's PyTorch scripts save `torch.save(model.state_dict(), path)` (`*.cleanrl_model`):

    dqn_atari.py   QNetwork.network = Sequential(conv 0, 2, 4, Linear 7, Linear 9)   -> q_values
    ppo_atari.py,  Agent.network = Sequential(conv 0, 2, 4, Linear 7), Agent.actor    -> logits
    ppo_atari_envpool.py  (Agent.critic, the value head, is dropped)

both on 4 stacked 84x84 frames scaled by 1/255 inside the network, like ours, so importing is
a renaming. They are read with `torch.load(weights_only=True)`: nothing is unpickled.

The Hub's CleanRL models of the JAX scripts (`dqn_atari_jax`, `ppo_atari_envpool_xla_jax_scan`)
are Flax msgpack files; they are read with Flax's own reader (`flax.serialization`, the optional
`flax` extra) and converted by `flax_import.py`. Without Flax, one line says what to install.
"""

from __future__ import annotations

from pathlib import Path

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import Checkpoint
from actor_mimic.common.importers.expert import build_expert, library_protocol, load_tensors, rename
from actor_mimic.errors import UserError

SUPPORTED = (
    "dqn_atari and ppo_atari / ppo_atari_envpool PyTorch state dicts, and (with the flax extra) "
    "the dqn_atari_jax and ppo_atari_envpool_xla_jax_scan Flax models"
)
TORSO = {"network.0.": "convs.0.", "network.2.": "convs.2.", "network.4.": "convs.4.", "network.7.": "fc.0."}
DQN = {**TORSO, "network.9.": "head."}
PPO = {**TORSO, "actor.": "head."}
# Flax writes a msgpack map: its first byte is a non-empty fixmap (0x81-0x8f), map16 or map32.
# torch.save writes a zip archive ("PK"), or, in its legacy format, a pickle (0x80).
MSGPACK_MAP_BYTES = frozenset([*range(0x81, 0x90), 0xDE, 0xDF])


def import_cleanrl(path: str | Path, config: AtariConfig) -> Checkpoint:
    """A CleanRL Atari agent as an expert for `config.game`, under CleanRL's Atari protocol
    (FIRE at reset and after a lost life: `library_protocol`)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            first = handle.read(1)
            handle.seek(0)
            if first and first[0] in MSGPACK_MAP_BYTES:
                from actor_mimic.common.importers.flax_import import import_flax

                return import_flax(path, handle.read(), library_protocol(config))
            state = load_tensors(handle, path)
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    config = library_protocol(config)
    provenance = {"source": "cleanrl", "library": "cleanrl", "file": path.name}
    if "actor.weight" in state:
        provenance["algorithm"] = "ppo"
        state = {k: v for k, v in state.items() if not k.startswith("critic.")}
        return build_expert(rename(state, PPO, path, f"import-cleanrl reads {SUPPORTED}"), config, provenance, path,
                            outputs="logits", acting="sample")  # fmt: skip
    provenance["algorithm"] = "dqn"
    return build_expert(rename(state, DQN, path, f"import-cleanrl reads {SUPPORTED}"), config, provenance, path)
