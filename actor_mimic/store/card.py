"""The dataset card of a teacher store: a README.md that says what the store holds.

A card is Markdown with YAML front matter in the form the Hugging Face Hub reads for dataset
repositories (license, pretty_name, tags, task_categories, size_categories, viewer), then a
body written for people: the game and its ALE settings, the expert that labelled every step
(sha256, training, score), who acted and how, the counts, the preprocessing, the library and
ROM versions, how the store is laid out, and the code that loads it. Everything in it comes
from the store's attribute document and episode table, so it is regenerated whenever the
store changes (`amn collect` does at the end of every run, `amn dataset card --write` on
demand) and the same store always gives the same card.

Where it lives:
    Zarr   STORE/README.md, inside the store's directory: it travels with the store, and a
           store pushed as a repository's root is the repository's card.
    HDF5   STORE.README.md beside the file (breakout.h5 -> breakout.h5.README.md). A card
           inside the HDF5 file would mean rewriting the data file for a text change, and
           no Hub or file browser shows an HDF5 attribute; the card can be regenerated
           from the file itself at any time, so a sibling that gets lost costs nothing.

The front matter has no `configs`: the Hub's `configs`/`data_files` tell its `datasets`
loader and viewer which Parquet/CSV/JSON/image files to read, and neither reads Zarr or HDF5.
`viewer: false` says so instead of leaving the Hub to fail, and the card's "How to load" shows
the code that reads the store. The license is the dataset author's choice, not the toolkit's:
`other` until set with `amn dataset card STORE --write --license ID`, and kept from the
existing card whenever the card is regenerated.

A card file is only ever replaced by another generated card: a README.md that does not carry
the front matter this module writes (say, one the dataset's author wrote by hand) is left as
it is by a collection and refused by `amn dataset card --write` unless `--overwrite` is given.
Cards are written like every output (`common/outputs.py`): beside, then renamed into place.

This module finds, reads and writes cards and gathers what a card says from the store
(`gather_facts`); store/card_markdown.py renders that into the Markdown.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from actor_mimic.common.outputs import shown, write_text
from actor_mimic.errors import UserError
from actor_mimic.store.backends import backend_by_name, bytes_on_disk
from actor_mimic.store.card_markdown import DEFAULT_LICENSE, TAGS, CardFacts, card_markdown
from actor_mimic.store.identity import store_digest
from actor_mimic.store.reader import StoreInfo, open_store, stored_path

log = logging.getLogger(__name__)

CARD_NAME = "README.md"
_LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def card_path(store: str | Path) -> Path:
    """Where the card of the store at `store` lives (see the module docstring). An HDF5 store
    still being collected (`X.h5.partial`) already has its card at `X.h5.README.md`."""
    store = Path(store)
    if store.is_dir() or (not store.exists() and backend_by_name(store) != "hdf5"):
        return store / CARD_NAME
    return store.with_name(store.name + "." + CARD_NAME)


def is_generated_card(path: Path) -> bool:
    """True if the file at `path` is a card this module wrote (its front matter's tags)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    tags = front_matter(text).get("tags")
    return isinstance(tags, list) and TAGS[0] in tags


def check_license(license_id: str) -> str:
    """A Hub license id (lower-case, e.g. `cc-by-4.0`, `mit`, `other`), else UserError."""
    if not _LICENSE_ID.match(license_id):
        raise UserError(
            f"license {license_id!r} is not a license id: use a lower-case id the Hugging Face Hub "
            "knows (cc-by-4.0, cc0-1.0, mit, apache-2.0, ...) or 'other'"
        )
    return license_id


def read_card(store: str | Path) -> str | None:
    """The card file's text, or None when the store has none."""
    path = card_path(store)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def front_matter(card: str) -> dict:
    """The YAML front matter of a card ({} when it has none or it is not YAML)."""
    match = re.match(r"^---\n(.*?)\n---\n", card, flags=re.DOTALL)
    if not match:
        return {}
    try:
        document = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def render_card(store: str | Path, license_id: str | None = None) -> str:
    """The card of the store at `store`, from its metadata. `license_id` None keeps the
    license of the existing card (or `other` when there is none)."""
    store = Path(store)
    if license_id is None:  # keep the existing card's, unless it was edited into no license id
        existing = front_matter(read_card(store) or "").get("license")
        license_id = str(existing) if existing and _LICENSE_ID.match(str(existing)) else DEFAULT_LICENSE
    check_license(license_id)
    with open_store(store, allow_incomplete=True) as (backend, info):  # the document and episode table
        digest = store_digest(backend, info.attrs) if info.attrs["schema_version"] >= 2 else None
    return card_markdown(gather_facts(store, info, digest), license_id)


def write_card(store: str | Path, license_id: str | None = None, overwrite: bool = False) -> Path:
    """Write the card of the store at `store` (beside, then renamed into place: a reader sees
    the old card or the new one) and return its path. A README.md there that is not a
    generated card is replaced only with `overwrite`."""
    path = card_path(store)
    if path.exists() and not overwrite and not is_generated_card(path):
        raise UserError(
            f"{shown(path)} exists and is not a dataset card written by actor-mimic: pass --overwrite "
            "to replace it with the generated card, or move it away"
        )
    return write_text(path, render_card(store, license_id))


def refresh_card(store: str | Path) -> Path | None:
    """Regenerate the card after the store changed (end of a collection, a resume, a convert).
    A hand-written README.md is kept, with a warning; returns the card's path or None."""
    try:
        return write_card(store)
    except UserError as error:
        log.warning("the dataset card was not written: %s", error)
        return None


def gather_facts(store: Path, info: StoreInfo, digest: str | None = None) -> CardFacts:
    """What the card of the store at `store` says, from its document and episode table `info`."""
    rows_at = stored_path(store)
    card_file = rows_at / CARD_NAME
    card_bytes = card_file.stat().st_size if rows_at.is_dir() and card_file.is_file() else 0
    return CardFacts(
        name=store.name,
        attrs=info.attrs,
        game=info.game,
        steps=info.num_steps,
        episodes=info.num_episodes,
        returns=info.episode_returns,
        complete=info.complete,
        backend=info.backend,
        bytes_on_disk=bytes_on_disk(rows_at) - card_bytes,  # the card itself is not data
        digest=digest,
    )
