"""The options of each `amn dataset` action, declared once: a field is a flag and a --config key.

An action's inputs and outputs (stores, URLs, folders) stay positional, as `cp` spells them;
its options are the fields of its dataclass here (common/settings.py), so

    amn dataset convert --config convert.yaml pong.zarr pong.h5      # compression: lz4

reads `compression: lz4` as it reads `--compression lz4`, and a flag typed overrides the file.
The checks of the options live here too; the stores themselves are checked by the actions.
"""

from __future__ import annotations

from dataclasses import dataclass

from actor_mimic.common.settings import setting
from actor_mimic.errors import UserError


@dataclass
class InfoOptions:
    as_json: bool = setting(False, "print one JSON document instead of text", flag="--json")


@dataclass
class VerifyOptions:
    allow_incomplete: bool = setting(False, "do not count an interrupted collection as a problem")


@dataclass
class CardOptions:
    write: bool = setting(False, "write the card (STORE/README.md; STORE.README.md for HDF5)")
    license_id: str | None = setting(
        None, "license id of the dataset, e.g. cc-by-4.0 (kept when the card is rewritten)", flag="--license"
    )
    overwrite: bool = setting(False, "with --write: replace a README.md that is not a generated card")

    def __post_init__(self) -> None:
        if (self.license_id is not None or self.overwrite) and not self.write:
            raise UserError("--license and --overwrite change the card on disk: pass them with --write")


@dataclass
class ConvertOptions:
    compression: str | None = setting(None, "zstd|lz4|gzip|none[:level] (default: the source's)")
    chunk_len: int | None = setting(None, "steps per chunk (default: the source's)")
    overwrite: bool = setting(False, "replace an existing teacher store at TARGET")


@dataclass
class PushOptions:
    overwrite: bool = setting(False, "replace a teacher store already at URL")
    progress: bool = setting(True, "show a progress bar")


@dataclass
class PullOptions:
    overwrite: bool = setting(False, "replace a teacher store already at DIR/NAME")
    digest: str | None = setting(
        None, "refuse the store unless its content digest is this (sha256:..., as `amn dataset info` prints it)"
    )
    progress: bool = setting(True, "show a progress bar")


@dataclass
class MergeOptions:
    allow_incomplete: bool = setting(False, "merge interrupted collections too (their committed steps)")
    overwrite: bool = setting(False, "replace an existing teacher store at OUT")


@dataclass
class MinariOptions:
    data_path: str | None = setting(
        None, "Minari's datasets folder (default: $MINARI_DATASETS_PATH or ~/.minari/datasets)", metavar="DIR"
    )
    allow_incomplete: bool = setting(False, "export an interrupted store's finished episodes")
    author: str | None = setting(None, "the dataset's author, for its metadata")
    author_email: str | None = setting(None, "the author's contact, for its metadata")
    overwrite: bool = setting(False, "replace a dataset of this id that actor-mimic exported")


# action -> the dataclass of its options
ACTION_OPTIONS: dict[str, type] = {
    "info": InfoOptions,
    "verify": VerifyOptions,
    "card": CardOptions,
    "convert": ConvertOptions,
    "push": PushOptions,
    "pull": PullOptions,
    "merge": MergeOptions,
    "export-minari": MinariOptions,
}
