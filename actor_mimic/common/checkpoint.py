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
    provenance      free-form: who or what produced it, from what, how long it trained; an
                    imported teacher's `library` and `algorithm` ("stable-baselines3", "ppo")
    evaluation      free-form scores, e.g. {"breakout": {"mean": 12.3, "std": 4.5, "episodes": 30}}
    outputs         what the outputs are: "q_values" (a DQN's, QR-DQN's mean over quantiles,
                    an AMN's) or "logits" (a policy-gradient teacher's: its policy is their
                    softmax). Written only when "logits"; a file without it holds Q-values.
    acting          how it plays: "greedy" (the best output) or "sample" (from softmax(logits),
                    a logit teacher only: how PPO and A2C agents are evaluated). Written only
                    when "sample".
    atari_by_game   per game, the Atari settings that differ from `atari` (an AMN distilled
                    from teachers that played under different protocols). Written only when
                    not empty.

Metadata is read strictly, since people can edit it: every field present and of its type,
sizes in range (1..18 outputs, Atari settings within `AtariConfig`'s limits), unknown fields
refused. The optional fields are left out when they hold their defaults, so a checkpoint
that needs none of them reads in earlier versions too. Writing follows `common.outputs`: a
checkpoint is replaced only with `overwrite` and only by another checkpoint, and written
beside, then renamed into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from actor_mimic.common.atari import NUM_ALE_ACTIONS, AtariConfig, canonical_game, settings_from_dict
from actor_mimic.common.networks import ARCHITECTURES, build_network
from actor_mimic.common.outputs import Output, atomic_output, check_output
from actor_mimic.errors import UserError

FORMAT = "actor-mimic-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "actor_mimic"
KINDS = ("expert", "amn")
OUTPUTS = ("q_values", "logits")
ACTING = ("greedy", "sample")
# Optional fields and their defaults: a document without them reads as these.
OPTIONAL = {"provenance": {}, "evaluation": {}, "outputs": "q_values", "acting": "greedy", "atari_by_game": {}}


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
    outputs: str = "q_values"
    acting: str = "greedy"
    atari_by_game: dict = field(default_factory=dict)

    def atari_config(self, game: str | None = None) -> AtariConfig:
        """The environment this policy expects, for `game` (default: its only/first game)."""
        game = game or self.games[0]
        settings = {**self.atari, **(self.atari_by_game.get(game) or {}), "game": game}
        return settings_from_dict(AtariConfig, settings, "Atari settings")

    def to_json(self) -> str:
        document = {"format": FORMAT, "format_version": FORMAT_VERSION}
        document.update(dataclasses.asdict(self))
        for name in ("outputs", "acting", "atari_by_game"):
            if document[name] == OPTIONAL[name]:
                del document[name]
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> CheckpointMetadata:
        """The metadata of a file, read strictly: a JSON object with every field of its type
        (see `validate`); unknown fields mean a newer actor-mimic wrote it."""
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            raise UserError(f"{source}: its metadata is not valid JSON ({error})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise UserError(f"{source}: not an actor-mimic checkpoint (no '{FORMAT}' metadata)")
        version = document.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise UserError(f"{source}: its metadata has format_version {version!r}, not a version number")
        if version > FORMAT_VERSION:
            raise UserError(
                f"{source}: checkpoint format version {version} is newer "
                f"than this actor-mimic reads ({FORMAT_VERSION}); upgrade actor-mimic"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(document) - names - {"format", "format_version"})
        if unknown:
            raise UserError(
                f"{source}: checkpoint metadata has unknown fields {unknown}: written by a newer "
                "actor-mimic, or edited by hand"
            )
        missing = sorted(n for n in names - set(document) if n not in OPTIONAL)
        if missing:
            raise UserError(f"{source}: checkpoint metadata lacks {missing}")
        metadata = cls(**{k: v for k, v in document.items() if k in names})
        metadata.validate(source)
        return metadata

    def validate(self, source: str = "checkpoint") -> None:
        """Every field of its type and in range; the games, action sets and settings agree.
        Raises UserError naming `source` and the first field that is wrong."""
        self._check_network(source)
        self._check_games(source)
        self._check_action_sets(source)
        self._check_settings(source)

    def _wrong(self, source: str, field: str, expected: str) -> UserError:
        return UserError(f"{source}: checkpoint metadata field {field!r} must be {expected}, "
                         f"got {json.dumps(getattr(self, field))[:80]}")  # fmt: skip

    def _check_network(self, source: str) -> None:
        """kind, architecture and num_actions."""
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise UserError(f"{source}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.architecture, str) or self.architecture not in ARCHITECTURES:
            raise UserError(f"{source}: unknown architecture {self.architecture!r} (known: {sorted(ARCHITECTURES)})")
        if isinstance(self.num_actions, bool) or not isinstance(self.num_actions, int):
            raise self._wrong(source, "num_actions", "a whole number")
        if not 1 <= self.num_actions <= NUM_ALE_ACTIONS:
            raise self._wrong(
                source, "num_actions", f"between 1 and {NUM_ALE_ACTIONS} (ALE has {NUM_ALE_ACTIONS} actions)"
            )
        if self.kind == "amn" and self.num_actions != NUM_ALE_ACTIONS:
            raise self._wrong(source, "num_actions", f"{NUM_ALE_ACTIONS} for an AMN (one output per ALE action)")

    def _check_games(self, source: str) -> None:
        """games: distinct ale-py ROM ids, one for an expert."""
        if not isinstance(self.games, list) or not self.games or not all(isinstance(g, str) for g in self.games):
            raise self._wrong(source, "games", "a non-empty list of game names")
        if len(set(self.games)) != len(self.games):
            raise self._wrong(source, "games", "a list of distinct games")
        if self.kind == "expert" and len(self.games) != 1:
            raise self._wrong(source, "games", "one game for an expert")
        for game in self.games:
            if canonical_game(game) != game:
                raise UserError(
                    f"{source}: game {game!r} is not an ale-py ROM id (did you mean {canonical_game(game)!r}?)"
                )

    def _check_action_sets(self, source: str) -> None:
        """action_sets: per game, distinct ALE action ids (an expert's: one per output)."""
        if not isinstance(self.action_sets, dict) or set(self.games) != set(self.action_sets):
            raise UserError(f"{source}: 'games' and 'action_sets' must name the same games")
        for game, actions in self.action_sets.items():
            if (
                not isinstance(actions, list)
                or not actions
                or any(isinstance(a, bool) or not isinstance(a, int) for a in actions)
            ):
                raise UserError(f"{source}: the action set of {game} must be a non-empty list of ALE action ids")
            if any(not 0 <= a < NUM_ALE_ACTIONS for a in actions) or len(set(actions)) != len(actions):
                raise UserError(f"{source}: action set for {game} has ids outside 0..17 or repeated ids")
            if self.kind == "expert" and len(actions) != self.num_actions:
                raise UserError(
                    f"{source}: the expert has {self.num_actions} outputs but its action set "
                    f"for {game} has {len(actions)} actions"
                )

    def _check_settings(self, source: str) -> None:
        """atari (settings that build an AtariConfig, without the game), provenance, evaluation."""
        if not isinstance(self.atari, dict):
            raise self._wrong(source, "atari", "an object of Atari settings")
        if "game" in self.atari:
            raise UserError(f"{source}: its 'atari' settings must not name the game ('games' does)")
        for name in ("provenance", "evaluation", "atari_by_game"):
            if not isinstance(getattr(self, name), dict):
                raise self._wrong(source, name, "an object")
        if not isinstance(self.outputs, str) or self.outputs not in OUTPUTS:
            raise self._wrong(source, "outputs", f"one of {', '.join(OUTPUTS)}")
        if not isinstance(self.acting, str) or self.acting not in ACTING:
            raise self._wrong(source, "acting", f"one of {', '.join(ACTING)}")
        if self.acting == "sample" and self.outputs != "logits":
            raise self._wrong(source, "acting", "greedy for a network whose outputs are Q-values")
        for game, settings in self.atari_by_game.items():
            if game not in self.games or not isinstance(settings, dict) or "game" in settings:
                raise self._wrong(source, "atari_by_game", "an object of Atari settings per game of 'games'")
        try:
            for game in self.games:
                self.atari_config(game)
        except UserError as error:
            raise UserError(f"{source}: {error}") from None


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


CHECKPOINT_OUTPUT = Output("checkpoint", suffixes=(".safetensors",), is_ours=lambda path: is_checkpoint(path))


def check_checkpoint_output(
    path, overwrite: bool = False, flag: str = "--out", overwrite_flag: str = "--overwrite"
) -> Path:
    """Where a checkpoint may be written: a `.safetensors` path that is free, or (with
    `overwrite`) holds an actor-mimic checkpoint. Touches nothing (see `common.outputs`)."""
    return check_output(path, dataclasses.replace(CHECKPOINT_OUTPUT, flag=flag), overwrite, overwrite_flag)


def is_checkpoint(path: str | Path) -> bool:
    """True if `path` is an actor-mimic checkpoint whose metadata reads."""
    try:
        read_metadata(path)
    except UserError:
        return False
    return True


def save_checkpoint(
    path: str | Path,
    network: nn.Module,
    metadata: CheckpointMetadata,
    dtype: torch.dtype = torch.float32,
    overwrite: bool = False,
) -> Path:
    """Write `network`'s weights (as `dtype`) and `metadata` to one safetensors file.

    An existing file is replaced only with `overwrite`, and only if it is a checkpoint; the
    file is written beside and renamed into place (`common.outputs`)."""
    from safetensors.torch import save_file

    metadata.validate(str(path))
    path = check_checkpoint_output(path, overwrite)
    tensors = {name: tensor.detach().to("cpu", dtype).contiguous() for name, tensor in network.state_dict().items()}
    with atomic_output(path) as temporary:
        save_file(tensors, str(temporary), metadata={METADATA_KEY: metadata.to_json()})
    return path


def read_metadata(path: str | Path) -> CheckpointMetadata:
    """The metadata alone, without reading the weights."""
    from safetensors import safe_open

    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
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
    try:
        tensors = load_file(str(path))
    except Exception as error:  # a header that reads but tensors that do not (truncated file)
        raise UserError(f"{path}: its weights cannot be read ({_first_line(error)})") from None
    atari = metadata.atari_config()
    network = build_network(metadata.architecture, metadata.num_actions, atari.stack_size, atari.screen_size)
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
                f"{path}: weight {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}"
            )
        if not tensor.is_floating_point():
            raise UserError(f"{path}: weight {name} has dtype {tensor.dtype}, not a floating-point type")
        if not torch.isfinite(tensor).all():
            raise UserError(f"{path}: weight {name} holds NaN or infinite values")
    network.load_state_dict({k: v.float() for k, v in tensors.items()})
    network.to(device).eval()
    return Checkpoint(network, metadata, path, file_sha256(path))


def _existing(path: str | Path) -> Path:
    if not str(path).strip():
        raise UserError("a checkpoint path is empty: give the .safetensors file")
    path = Path(path)
    if path.is_dir():
        raise UserError(f"checkpoint {path} is a folder (expected a .safetensors file)")
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist (expected a .safetensors file)")
    return path


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def expert_metadata(
    config: AtariConfig,
    architecture: str = "nature_dqn",
    provenance: dict | None = None,
    evaluation: dict | None = None,
    outputs: str = "q_values",
    acting: str = "greedy",
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
        outputs=outputs,
        acting=acting,
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
