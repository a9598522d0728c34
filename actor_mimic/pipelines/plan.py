"""A collection plan: one YAML file that describes a whole teacher dataset.

    out: data/paper8                  # a folder, or an fsspec URL (hf://datasets/USER/REPO, s3://...)
    executor:                         # optional: where the shards run (pipelines/executors.py)
      kind: local                     # local | submitit | dask
      workers: 2                      # local: shards at once; dask: local worker processes
    defaults:                         # `amn collect` settings for every game (flags in snake_case)
      steps: 1000000
      shards: 4                       # stores per game, collected independently (--shard I/N)
      num_envs: 8
    games:
      - expert: experts/breakout.safetensors
      - expert: experts/pong.safetensors
        shards: 8
        seed: 3
      - name: pong-r1                 # a second collection of a game: its own name
        expert: experts/pong.safetensors
        behaviour: runs/amn.safetensors
        behaviour_epsilon: 0.05
        round: r1

A game entry takes every setting of `amn collect` (`CollectConfig`) except those the plan
decides (`out`, `shard`, `resume`, `overwrite`, `progress`), plus `name` (default: its
`game`, else the expert's game; it names the stores) and `shards` (default 1). Its settings
override `defaults`. Relative paths (experts, a local `out`, `work_dir`) are taken from the
plan file's folder, so a plan means the same from any working folder and on any cluster node.

The stores of game NAME are `OUT/NAME.zarr` (one shard) or `OUT/NAME-I-of-N.zarr` (`.h5`
with `backend: hdf5`). `work_dir` (default: `PLAN.work` beside the plan file) holds what the
build needs and does not share: one folder per shard (its task, result and log), the cluster
engine's job files, and, when `out` is a URL, the stores collected there before they are
pushed. Everything here is checked before anything is written (`load_plan`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from actor_mimic.collect import CollectConfig
from actor_mimic.common.settings import build, read_settings, settings_of
from actor_mimic.errors import UserError, one_line
from actor_mimic.store import is_remote, location, protocol_of

# Settings of `amn collect` the plan decides for every shard.
PLAN_DECIDES = ("out", "shard", "resume", "overwrite", "progress")
COLLECT_SETTINGS = {item.key: item for item in settings_of(CollectConfig) if item.name not in PLAN_DECIDES}
PATH_SETTINGS = ("expert", "behaviour")  # resolved from the plan file's folder
PLAN_KEYS = ("out", "work_dir", "executor", "defaults", "games")
EXECUTORS = ("local", "submitit", "dask")
EXECUTOR_KEYS = ("kind", "workers", "cluster", "address", "parameters")
SUBMITIT_CLUSTERS = ("slurm", "local", "debug")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
MAX_SHARDS = 100_000


@dataclass
class ExecutorSettings:
    """Where the shards run. kind: "local" (processes on this machine, `workers` at once),
    "submitit" (a Slurm job array; `cluster: local` runs the same jobs as local processes),
    "dask" (the scheduler at `address`, or a local cluster of `workers` processes).
    `parameters`: passed as they are to the engine (submitit's `update_parameters`, e.g.
    slurm_partition, timeout_min, cpus_per_task, mem_gb, slurm_array_parallelism)."""

    kind: str = "local"
    workers: int = 1
    cluster: str = "slurm"
    address: str | None = None
    parameters: dict = field(default_factory=dict)


@dataclass
class GamePlan:
    """One collection of the plan: `shards` stores of one game, with its `amn collect`
    settings (by key, the flags in snake_case, paths absolute)."""

    name: str
    shards: int
    settings: dict

    @property
    def backend(self) -> str:
        return "hdf5" if self.settings.get("backend") == "hdf5" else "zarr"

    def store_name(self, shard: int) -> str:
        suffix = ".h5" if self.backend == "hdf5" else ".zarr"
        return f"{self.name}{suffix}" if self.shards == 1 else f"{self.name}-{shard}-of-{self.shards}{suffix}"

    def collect_config(self, shard: int, out: Path | str) -> CollectConfig:
        """The `amn collect` run of one shard: resumed if its store exists (a missing one is
        started), so running it again finishes an interrupted store and leaves a complete one."""
        chosen = {**self.settings, "out": out, "shard": (shard, self.shards), "resume": True, "progress": False}
        return build(CollectConfig, chosen)


@dataclass
class Plan:
    path: Path  # the plan file
    out: Path | str  # a local folder (Path) or a URL (str)
    work_dir: Path
    executor: ExecutorSettings
    games: list[GamePlan]

    @property
    def remote(self) -> bool:
        return isinstance(self.out, str)

    def shards(self) -> list[tuple[GamePlan, int]]:
        """Every shard of every game, game after game."""
        return [(game, shard) for game in self.games for shard in range(game.shards)]

    def final_location(self, game: GamePlan, shard: int) -> Path | str:
        """Where the store ends up: in the local `out`, or under the URL."""
        name = game.store_name(shard)
        return f"{self.out}/{name}" if isinstance(self.out, str) else self.out / name

    def collected_at(self, game: GamePlan, shard: int) -> Path:
        """Where the store is collected: `out` itself, or the staging folder of a URL."""
        name = game.store_name(shard)
        return self.work_dir / "staging" / name if self.remote else Path(self.out) / name

    def shard_folder(self, game: GamePlan, shard: int) -> Path:
        """The work folder of one shard: its task, result, log and lock."""
        return self.work_dir / "shards" / game.store_name(shard)


def load_plan(path: str | Path) -> Plan:
    """Read and check the plan at `path`; UserError naming the first mistake. Writes nothing."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise UserError(f"plan {where} does not exist" if not path.exists() else f"plan {where} is not a file")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UserError(f"plan {where} is not valid YAML: {one_line(error)}") from None
    if not isinstance(data, dict):
        raise UserError(f"plan {where} must be a mapping with out, games (and defaults, executor, work_dir)")
    _check_keys(data, PLAN_KEYS, where)
    folder = path.resolve().parent
    out = _out(data.get("out"), folder, where)
    work_dir = _local_folder(data.get("work_dir") or f"{path.stem}.work", folder, f"{where}: work_dir")
    if isinstance(out, Path) and (work_dir == out or work_dir.is_relative_to(out)):
        raise UserError(f"{where}: work_dir {work_dir} lies inside out {out}: the dataset folder holds only the stores")
    defaults = data.get("defaults") or {}
    games = data.get("games")
    if not isinstance(games, list) or not games:
        raise UserError(f"{where}: games must be a list of collections (each with at least its expert)")
    plans = [_game(entry, defaults, folder, f"{where}: games[{index}]") for index, entry in enumerate(games)]
    names = [game.name for game in plans]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"{where}: two collections are named {repeated[0]}: give each its own `name`")
    for game in plans:
        if isinstance(out, str) and game.backend == "hdf5":
            raise UserError(f"{where}: {game.name} is HDF5, which is read from local files only: "
                            "collect it into a local out, or use Zarr (the default) for a URL")  # fmt: skip
    return Plan(path, out, work_dir, _executor(data.get("executor") or {}, f"{where}: executor"), plans)


def _check_keys(data: dict, known: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in known:
            raise UserError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")


def _out(value, folder: Path, where: str) -> Path | str:
    if value is None or not str(value).strip():
        raise UserError(f"{where}: out is required: the folder or URL the stores go to")
    if not isinstance(value, str) or not value.isprintable():
        raise UserError(f"{where}: out must be a folder or a URL, got {value!r}")
    if is_remote(value):
        if protocol_of(value) in ("http", "https"):
            raise UserError(f"{where}: out {value}: http(s) URLs are read-only; use hf://, s3:// or gs://")
        return value.rstrip("/")
    return _local_folder(location(value), folder, f"{where}: out")


def _local_folder(value, folder: Path, where: str) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).isprintable():
        raise UserError(f"{where} must be a folder, got {value!r}")
    target = (folder / Path(value).expanduser()).resolve()
    if target.exists() and not target.is_dir():
        raise UserError(f"{where} {target} is a file; it must name a folder")
    return target


def _game(entry, defaults, folder: Path, where: str) -> GamePlan:
    if not isinstance(entry, dict):
        raise UserError(f"{where} must be a mapping of settings (at least expert: PATH)")
    if not isinstance(defaults, dict):
        raise UserError(f"{where.rsplit(':', 1)[0]}: defaults must be a mapping of settings")
    merged: dict = {}
    for source, text in ((defaults, f"{where.rsplit(':', 1)[0]}: defaults"), (entry, where)):
        extra = {key: source[key] for key in ("name", "shards") if key in source}
        given = read_settings({k: v for k, v in source.items() if k not in extra}, COLLECT_SETTINGS, text)
        for key in given.values:  # a game's --episodes replaces the defaults' --steps
            for rival in given.rivals.get(key, ()):
                merged.pop(rival, None)
        merged.update(given.values, **extra)
    name = merged.pop("name", None)
    shards = merged.pop("shards", 1)
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise UserError(f"{where}: shards must be a whole number from 1 to {MAX_SHARDS}, got {shards!r}")
    for key in PATH_SETTINGS:
        if merged.get(key) is not None:
            merged[key] = str((folder / Path(str(merged[key])).expanduser()).resolve())
    expert = merged.get("expert")
    if expert is None:
        raise UserError(f"{where}: expert is required: the checkpoint that labels the states")
    for key in PATH_SETTINGS:
        if merged.get(key) is not None and not Path(merged[key]).is_file():
            raise UserError(f"{where}: {key} {merged[key]} does not exist")
    if name is None:
        name = merged.get("game") or _expert_game(expert, where)
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(f"{where}: name {name!r} must be lower-case letters, digits, '_', '.' or '-' (it names the "
                        "stores)")  # fmt: skip
    game = GamePlan(name, shards, merged)
    config = game.collect_config(0, Path("unused.zarr") if game.backend == "zarr" else Path("unused.h5"))
    try:
        config.validate()
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    return game


def _expert_game(expert: str, where: str) -> str:
    from actor_mimic.common.checkpoint import read_metadata

    try:
        games = read_metadata(expert).games
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    if len(games) != 1:
        raise UserError(f"{where}: {expert} plays {len(games)} games: name the game with `game:`")
    return games[0]


def _executor(data, where: str) -> ExecutorSettings:
    if not isinstance(data, dict):
        raise UserError(f"{where} must be a mapping (kind: local | submitit | dask, ...)")
    _check_keys(data, EXECUTOR_KEYS, where)
    return checked_executor(ExecutorSettings(**data), where)


def checked_executor(settings: ExecutorSettings, where: str) -> ExecutorSettings:
    """The executor settings, checked (from the plan file, then the command line's)."""
    if settings.kind not in EXECUTORS:
        raise UserError(f"{where}: kind must be one of {', '.join(EXECUTORS)}, got {settings.kind!r}")
    if isinstance(settings.workers, bool) or not isinstance(settings.workers, int) or not 1 <= settings.workers <= 1024:
        raise UserError(f"{where}: workers must be a whole number from 1 to 1024, got {settings.workers!r}")
    if settings.cluster not in SUBMITIT_CLUSTERS:
        raise UserError(f"{where}: cluster must be one of {', '.join(SUBMITIT_CLUSTERS)}, got {settings.cluster!r}")
    if settings.address is not None and not isinstance(settings.address, str):
        raise UserError(f"{where}: address must be a scheduler address such as tcp://host:8786")
    if not isinstance(settings.parameters, dict):
        raise UserError(f"{where}: parameters must be a mapping of the engine's own settings")
    return settings
