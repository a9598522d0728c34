"""The shared checkpoint format: one `.safetensors` file, weights plus JSON metadata.

Checkpoints travel between people, so they are data, never code: the weights are safetensors
tensors and the metadata is a JSON document stored in the safetensors header under the key
`actor_mimic`. Loading never unpickles anything.

Metadata (`CheckpointMetadata`):
    kind            "expert" (one game, outputs over that game's action set) or "amn"
                    (outputs over all 18 ALE actions, trained on `games`)
    architecture    a name from `networks.ARCHITECTURES`
    num_actions     width of the output layer
    games           ROM ids the policy plays
    action_sets     game -> ALE action ids; for an expert, output i is ALE action action_sets[game][i]
    atari           the AtariConfig settings it was trained with (without the game)
    provenance      free-form: who or what produced it, from what, how long it trained
    evaluation      free-form scores, e.g. {"breakout": {"mean": 12.3, "std": 4.5, "episodes": 30}}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.networks import ARCHITECTURES, build_network
from actor_mimic.errors import UserError

FORMAT = "actor-mimic-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "actor_mimic"
KINDS = ("expert", "amn")


@dataclass
class CheckpointMetadata:
    kind: str
    architecture: str
    num_actions: int
    games: list[str]
    action_sets: dict[str, list[int]]
    atari: dict
    provenance: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)

    def atari_config(self, game: str | None = None) -> AtariConfig:
        """The environment this policy expects, for `game` (default: its only/first game)."""
        return AtariConfig(game=game or self.games[0], **self.atari)

    def to_json(self) -> str:
        document = {"format": FORMAT, "format_version": FORMAT_VERSION}
        document.update(dataclasses.asdict(self))
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> CheckpointMetadata:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"{source}: its metadata is not valid JSON ({error})") from None
        if document.get("format") != FORMAT:
            raise UserError(f"{source}: not an actor-mimic checkpoint (no '{FORMAT}' metadata)")
        if int(document.get("format_version", 0)) > FORMAT_VERSION:
            raise UserError(
                f"{source}: checkpoint format version {document['format_version']} is newer "
                f"than this actor-mimic reads ({FORMAT_VERSION}); upgrade actor-mimic"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(n for n in names - set(document) if n not in ("provenance", "evaluation"))
        if missing:
            raise UserError(f"{source}: checkpoint metadata lacks {missing}")
        metadata = cls(**{k: v for k, v in document.items() if k in names})
        metadata.validate(source)
        return metadata

    def validate(self, source: str = "checkpoint") -> None:
        if self.kind not in KINDS:
            raise UserError(f"{source}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.architecture not in ARCHITECTURES:
            raise UserError(
                f"{source}: unknown architecture {self.architecture!r} "
                f"(known: {sorted(ARCHITECTURES)})"
            )
        if not self.games or set(self.games) != set(self.action_sets):
            raise UserError(f"{source}: 'games' and 'action_sets' must name the same games")
        for game, actions in self.action_sets.items():
            if self.kind == "expert" and len(actions) != self.num_actions:
                raise UserError(
                    f"{source}: the expert has {self.num_actions} outputs but its action set "
                    f"for {game} has {len(actions)} actions"
                )
            if any(not 0 <= a < 18 for a in actions):
                raise UserError(f"{source}: action set for {game} has ids outside 0..17")
        self.atari_config()  # raises UserError on bad settings


@dataclass
class Checkpoint:
    """A loaded policy: the network (eval mode, float32) and its metadata."""

    network: nn.Module
    metadata: CheckpointMetadata
    path: Path | None = None
    sha256: str | None = None


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(
    path: str | Path,
    network: nn.Module,
    metadata: CheckpointMetadata,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write `network`'s weights (as `dtype`) and `metadata` to one safetensors file."""
    from safetensors.torch import save_file

    metadata.validate(str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: tensor.detach().to("cpu", dtype).contiguous()
        for name, tensor in network.state_dict().items()
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={METADATA_KEY: metadata.to_json()})
    tmp.replace(path)  # never leave a half-written checkpoint under the real name
    return path


def read_metadata(path: str | Path) -> CheckpointMetadata:
    """The metadata alone, without reading the weights."""
    from safetensors import safe_open

    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:  # safetensors raises several types for a malformed file
        raise UserError(
            f"{path}: not a readable safetensors checkpoint ({error}); "
            "checkpoints from other libraries need `amn checkpoint import-sb3/import-cleanrl`"
        ) from None
    if METADATA_KEY not in header:
        raise UserError(f"{path}: a safetensors file without actor-mimic metadata")
    return CheckpointMetadata.from_json(header[METADATA_KEY], str(path))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a policy checkpoint as a float32 network in eval mode. Never unpickles."""
    from safetensors.torch import load_file

    path = _existing(path)
    metadata = read_metadata(path)
    tensors = load_file(str(path))
    network = build_network(
        metadata.architecture,
        metadata.num_actions,
        in_channels=metadata.atari.get("stack_size", 4),
        screen_size=metadata.atari.get("screen_size", 84),
    )
    expected = network.state_dict()
    if set(tensors) != set(expected):
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        raise UserError(
            f"{path}: weights do not match a {metadata.architecture} with "
            f"{metadata.num_actions} actions (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise UserError(
                f"{path}: weight {name} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name].shape)}"
            )
        if not torch.isfinite(tensor).all():
            raise UserError(f"{path}: weight {name} holds NaN or infinite values")
    network.load_state_dict({k: v.float() for k, v in tensors.items()})
    network.to(device).eval()
    return Checkpoint(network, metadata, path, file_sha256(path))


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist (expected a .safetensors file)")
    return path


def expert_metadata(
    config: AtariConfig,
    architecture: str = "nature_dqn",
    provenance: dict | None = None,
    evaluation: dict | None = None,
) -> CheckpointMetadata:
    """Metadata of an expert for `config.game`, acting over the game's action set."""
    from actor_mimic.common.atari import action_set

    actions = list(action_set(config))
    settings = {k: v for k, v in config.to_dict().items() if k != "game"}
    return CheckpointMetadata(
        kind="expert",
        architecture=architecture,
        num_actions=len(actions),
        games=[config.game],
        action_sets={config.game: actions},
        atari=settings,
        provenance=dict(provenance or {}),
        evaluation=dict(evaluation or {}),
    )


def random_init_expert(config: AtariConfig, seed: int = 0, architecture: str = "nature_dqn") -> Checkpoint:
    """A freshly initialised (untrained) expert, for plumbing and demos. Its provenance says
    so, and so does every store collected with it."""
    torch.manual_seed(seed)
    metadata = expert_metadata(
        config, architecture, provenance={"source": "random-init", "trained": False, "seed": seed}
    )
    network = build_network(architecture, metadata.num_actions, config.stack_size, config.screen_size)
    return Checkpoint(network.eval(), metadata)
