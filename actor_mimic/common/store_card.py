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
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import yaml

from actor_mimic.common.outputs import shown, write_text
from actor_mimic.common.store_backends import backend_by_name, bytes_on_disk
from actor_mimic.common.store_read import open_store, partial_path, stored_path
from actor_mimic.common.store_schema import lane_prefix, step_fields
from actor_mimic.errors import UserError

log = logging.getLogger(__name__)

CARD_NAME = "README.md"
DEFAULT_LICENSE = "other"
TAGS = ("actor-mimic", "atari", "arcade-learning-environment", "policy-distillation", "teacher-dataset")
_LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_SIZE_CATEGORIES = (  # the Hub's buckets: (upper bound, name)
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)


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


def size_category(num_steps: int) -> str:
    """The Hub's size bucket for a dataset of `num_steps` examples."""
    for bound, name in _SIZE_CATEGORIES:
        if num_steps < bound:
            return name
    return "n>1B"


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
    with open_store(store, allow_incomplete=True) as (_, info):
        pass  # the card is made from the document and episode table alone
    facts = _Facts(store, info)
    return _front(facts, license_id) + "\n" + _body(facts, license_id)


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


class _Facts:
    """What a card says, gathered once from the store."""

    def __init__(self, store: Path, info):
        attrs = info.attrs
        self.name = store.name
        self.attrs = attrs
        self.game = info.game
        self.title = _title(info.game)
        self.steps = info.num_steps
        self.episodes = info.num_episodes
        self.returns = info.episode_returns
        self.complete = info.complete
        self.backend = info.backend
        rows_at = stored_path(store)
        card_file = rows_at / CARD_NAME
        card_bytes = card_file.stat().st_size if rows_at.is_dir() and card_file.is_file() else 0
        self.bytes_on_disk = bytes_on_disk(rows_at) - card_bytes  # the card itself is not data
        self.collecting = rows_at == partial_path(store)
        self.expert = attrs.get("expert") or {}
        self.expert_metadata = self.expert.get("metadata") or {}
        self.behaviour = attrs.get("behaviour") or {}


def _title(game: str) -> str:
    return "".join(part.capitalize() for part in game.split("_"))


def _front(facts: _Facts, license_id: str) -> str:
    document = {
        "pretty_name": f"{facts.title} teacher dataset (actor-mimic)",
        "license": license_id,
        "tags": [*TAGS, facts.game],
        "task_categories": ["reinforcement-learning"],
        "size_categories": [size_category(facts.steps)],
        "viewer": False,
    }
    return "---\n" + yaml.safe_dump(document, sort_keys=False, default_flow_style=False) + "---\n"


def _body(facts: _Facts, license_id: str) -> str:
    sections = [
        _summary(facts),
        _contents(facts),
        _fields(facts),
        _environment(facts),
        _expert(facts),
        _behaviour(facts),
        _layout(facts),
        _versions(facts),
        _loading(facts),
        _provenance(facts, license_id),
    ]
    return "\n".join(sections)


def _table(rows: list[tuple[str, object]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def _summary(facts: _Facts) -> str:
    attrs = facts.attrs
    hidden = f"{attrs['hidden_size']} `{facts.expert.get('hidden_layer', '?')}` activations"
    return (
        f"# {facts.title} teacher dataset\n\n"
        f"Expert rollouts of Atari {facts.title} written by `amn collect` of "
        "actor-mimic for Actor-Mimic distillation (Parisotto, Ba & "
        "Salakhutdinov, ICLR 2016). Per step: the newest preprocessed frame (stacks are rebuilt "
        "on read), the action taken, the raw reward, terminated/truncated, lives, and the "
        f"expert's labels: its Q-values over the game's {attrs['num_actions']} actions and its "
        f"{hidden}.\n"
    )


def _contents(facts: _Facts) -> str:
    attrs = facts.attrs
    returns = facts.returns
    if len(returns):
        summary = f"mean {returns.mean():.2f}, min {returns.min():g}, max {returns.max():g}"
    else:
        summary = "n/a"
    cut = len(attrs.get("cut_episodes") or [])
    shard = attrs.get("shard") or [0, 1]
    target = attrs.get("target") or {}
    target_text = ", ".join(f"{key} {value}" for key, value in target.items()) or "n/a"
    rows = [
        ("steps", f"{facts.steps:,}"),
        ("episodes", f"{facts.episodes:,} ({cut} cut short by the budget or an interruption)"),
        ("episode return (raw)", summary),
        ("complete", "yes" if facts.complete else "**no**: interrupted, finish it with `amn collect ... --resume`"),
        ("shard", f"{shard[0]} of {shard[1]}"),
        ("target", target_text),
    ]
    return "## Contents\n\n" + _table(rows)


FIELD_MEANINGS = {
    "frames": "newest frame of the observation; stacks are rebuilt on read",
    "actions": "index into the action set of the action taken",
    "rewards": "raw reward after the action (unclipped)",
    "terminated": "the game ended after the action",
    "truncated": "the episode was cut after the action (time limit, budget, interruption)",
    "lives": "lives counter of the observation",
    "q_values": "the expert's Q-values over the action set",
    "hidden": "the expert's hidden activations",
}


def _fields(facts: _Facts) -> str:
    attrs = facts.attrs
    screen = int((attrs.get("preprocessing") or {}).get("screen_size", 84))
    fields = step_fields(
        int(attrs["num_actions"]), int(attrs["hidden_size"]), screen, attrs["q_dtype"], attrs["hidden_dtype"]
    )
    lines = ["## Fields (one row per step)\n", "| array | dtype | per step | meaning |", "|---|---|---|---|"]
    for name, (shape, dtype) in fields.items():
        lines.append(f"| `{name}` | {np.dtype(dtype).name} | {tuple(shape)} | {FIELD_MEANINGS.get(name, '')} |")
    lines.append(
        "\nEach of the store's lanes (one per environment of the collection) holds these arrays "
        "under `lanes/<i>/`: that environment's steps, episode after episode. Episodes end where "
        "`terminated` or `truncated` is set; `checksums/<array>` beside them holds the CRC-32C of "
        "every stored chunk.\n"
    )
    return "\n".join(lines)


def _environment(facts: _Facts) -> str:
    attrs = facts.attrs
    atari = attrs.get("atari") or {}
    pre = attrs.get("preprocessing") or {}
    rom = attrs.get("rom") or {}
    rows = [
        ("game (ale-py ROM id)", f"`{facts.game}`"),
        ("ROM sha256", f"`{rom['sha256']}`" if rom.get("sha256") else "not recorded"),
        ("action set (ALE action ids)", attrs.get("action_set")),
        ("full action space", "yes" if atari.get("full_action_space") else "no"),
        ("frame skip", atari.get("frame_skip")),
        ("sticky actions (repeat_action_probability)", atari.get("repeat_action_probability")),
        ("no-op starts (up to)", atari.get("noop_max")),
        ("episode limit (frames)", atari.get("max_episode_frames")),
        ("frames", (f"{pre.get('screen_size')}x{pre.get('screen_size')} "
                   f"{'grayscale' if pre.get('grayscale') else 'colour'}"
                   f"{', max of the last two frames of each skip' if pre.get('maxpool_last_two') else ''}")),
        ("stacks", f"{pre.get('stack_size')} frames, padded with {pre.get('stack_padding')} at an episode's start"),
    ]  # fmt: skip
    return "## Game and preprocessing\n\n" + _table(rows)


def _expert(facts: _Facts) -> str:
    expert, metadata = facts.expert, facts.expert_metadata
    provenance = metadata.get("provenance") or {}
    rows = [
        ("sha256 of the checkpoint file", f"`{expert['sha256']}`" if expert.get("sha256") else "not recorded"),
        ("architecture", metadata.get("architecture")),
        ("stored layer", f"`{expert.get('hidden_layer')}` ({facts.attrs['hidden_size']} units)"),
        ("trained", _training(provenance)),
    ]
    for game, score in sorted((metadata.get("evaluation") or {}).items()):
        rows.append((f"score ({game})", _score(score)))
    return "## Expert (labels every step)\n\n" + _table(rows)


def _training(provenance: dict) -> str:
    if not provenance:
        return "unknown"
    if provenance.get("source") == "random-init" or provenance.get("trained") is False:
        return "**no**: a randomly initialised network (plumbing only)"
    parts = [str(provenance.get("source", "unknown source"))]
    if provenance.get("agent_steps") is not None:
        parts.append(f"{provenance['agent_steps']:,} agent steps")
    if provenance.get("preset"):
        parts.append(f"preset {provenance['preset']}")
    return ", ".join(parts)


def _score(score: dict) -> str:
    if not isinstance(score, dict) or score.get("mean") is None:
        return "n/a"
    text = f"{score['mean']:.2f}"
    if score.get("std") is not None:
        text += f" ± {score['std']:.2f}"
    details = [f"{score['num_episodes']} episodes" if score.get("num_episodes") is not None else None,
               f"epsilon {score['epsilon']}" if score.get("epsilon") is not None else None]  # fmt: skip
    details = [d for d in details if d]
    return text + (f" ({', '.join(details)})" if details else "")


def _behaviour(facts: _Facts) -> str:
    if facts.attrs.get("sources"):
        return _sources(facts)
    behaviour = facts.behaviour
    policy = behaviour.get("policy")
    if isinstance(policy, dict):
        who = f"{policy.get('kind', 'policy')} checkpoint `{policy.get('sha256') or policy.get('weights_sha256')}`"
    else:
        who = policy or "unknown"
    rows = [
        ("acting policy", who),
        ("epsilon-greedy epsilon", behaviour.get("epsilon")),
        ("round", behaviour.get("round") if behaviour.get("round") is not None else "none (the expert's own play)"),
        ("seed", facts.attrs.get("seed")),
        ("parallel environments", facts.attrs.get("num_envs")),
    ]
    return "## Behaviour policy\n\n" + _table(rows)


def _sources(facts: _Facts) -> str:
    """A merged store (`amn dataset merge`): who acted, per collection its lanes came from."""
    lines = ["## Behaviour policies, per collection\n",
             (f"Merged by `amn dataset merge` from {len(facts.attrs['sources'])} collection(s); each lane "
             "keeps its collection's provenance (`sources` and `lanes[i].source` in the metadata).\n"),
             "| collection | lanes | steps | acting policy | epsilon | round | seed | shard |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for index, source in enumerate(facts.attrs["sources"]):
        lanes = [lane for lane in facts.attrs["lanes"] if lane["source"] == index]
        behaviour = source.get("behaviour") or {}
        policy = behaviour.get("policy")
        if isinstance(policy, dict):
            policy = (
                f"{policy.get('kind', 'policy')} `{(policy.get('sha256') or policy.get('weights_sha256') or '?')[:12]}`"
            )
        lines.append(
            f"| {source.get('name')} | {len(lanes)} | {sum(lane['steps'] for lane in lanes)} | {policy} | "
            f"{behaviour.get('epsilon')} | {behaviour.get('round')} | {source.get('seed')} | {source.get('shard')} |"
        )
    return "\n".join(lines) + "\n"


def _layout(facts: _Facts) -> str:
    attrs = facts.attrs
    rows = [
        ("format", (f"{'Zarr v3 directory' if facts.backend == 'zarr' else 'HDF5 file'}, schema "
                   f"`{attrs.get('schema')}` version {attrs.get('schema_version')}")),
        ("lanes", len(attrs.get("lanes") or [None])),
        ("chunks", f"{attrs.get('chunk_len')} steps"),
        ("compression", f"`{attrs.get('compression')}` (lossless)"),
        ("Q-values", f"{attrs.get('q_dtype')} ({attrs['num_actions']} per step)"),
        ("activations", f"{attrs.get('hidden_dtype')} ({attrs['hidden_size']} per step)"),
        ("size on disk", f"{facts.bytes_on_disk:,} bytes ({facts.bytes_on_disk / max(facts.steps, 1):.0f} per step)"),
    ]  # fmt: skip
    return "## Storage\n\n" + _table(rows)


def _versions(facts: _Facts) -> str:
    versions = facts.attrs.get("versions") or {}
    segments = facts.attrs.get("segments") or []
    rows = [(name, f"`{version}`" if version else "not installed") for name, version in versions.items()]
    text = "## Library versions\n\n" + (_table(rows) if rows else "Not recorded.\n")
    later = [s for s in segments[1:] if s.get("versions") and s.get("versions") != versions]
    if later:
        text += f"\n{len(later)} resumed run(s) used other versions; see `segments` in the store's metadata.\n"
    return text


def _loading(facts: _Facts) -> str:
    name = facts.name
    reader = 'zarr.open_group(path, mode="r")' if facts.backend == "zarr" else 'h5py.File(path, "r")'
    module = "zarr" if facts.backend == "zarr" else "h5py, hdf5plugin  # hdf5plugin registers the codecs"
    return (
        "## How to load\n\n"
        "With actor-mimic installed:\n\n"
        "```python\n"
        "from actor_mimic.datasets import TeacherDataset, make_loader\n\n"
        f'dataset = TeacherDataset("{name}")  # this store (several shards: a list of paths)\n'
        "sample = dataset[0]  # frames (4, 84, 84) uint8, q_values, action_mask, hidden, ...\n"
        "for batch in make_loader(dataset, batch_size=256, seed=0):\n"
        "    ...\n"
        "```\n\n"
        "```bash\n"
        f"amn dataset info {name}     # counts, returns, size, provenance\n"
        f"amn dataset verify {name}   # schema, counts and values\n"
        "```\n\n"
        "Without it, the arrays are plain "
        f"{'Zarr' if facts.backend == 'zarr' else 'HDF5'}, one group per lane (rows of lane i "
        "below `lanes[i].steps` of the `actor_mimic` attribute are committed; rows after a lane's "
        "last end flag belong to an unfinished episode):\n\n"
        "```python\n"
        f"import {module}\n\n"
        f'path = "{name}"\n'
        f"store = {reader}\n"
        f'lane = store["{lane_prefix(0).rstrip("/")}"]\n'
        'frames, q_values, hidden = lane["frames"], lane["q_values"], lane["hidden"]\n'
        "```\n"
    )


def _provenance(facts: _Facts, license_id: str) -> str:
    segments = facts.attrs.get("segments") or []
    lines = ["## Provenance\n"]
    if facts.attrs.get("merged"):
        lines.append(f"Merged {facts.attrs['merged'].get('at')} by `amn dataset merge` from "
                     f"{', '.join(map(str, facts.attrs['merged'].get('inputs') or []))}; the runs of "
                     "`amn collect` that wrote each collection are in its `sources` record.\n")  # fmt: skip
    else:
        lines.append(f"Created {facts.attrs.get('created')}, last written {facts.attrs.get('updated')}, "
                     f"by {len(segments)} run(s) of `amn collect`:\n")  # fmt: skip
    for segment in segments:
        start, end = segment.get("start_steps"), segment.get("end_steps")
        start = sum(start) if isinstance(start, list) else "?"
        end = sum(end) if isinstance(end, list) else "?"
        stopped = segment.get("stopped_by", "killed" if end == "?" else "unknown")
        lines.append(f"- steps {start} to {end} (over all lanes), stopped by {stopped}")
    license_text = (
        "not chosen yet (`other`): set it with `amn dataset card STORE --write --license ID`"
        if license_id == DEFAULT_LICENSE
        else f"`{license_id}`"
    )
    lines.append(f"\nLicense of this dataset: {license_text}. The frames are renderings of the game's "
                 "ROM, which ale-py ships under its own terms.\n")  # fmt: skip
    lines.append("This card is generated from the store's metadata by `amn dataset card`; "
                 "edits other than the license are replaced when the store changes.\n")  # fmt: skip
    return "\n".join(lines)


def table_rows(card: str) -> dict:
    """The rows of a card's tables, {first cell: second cell} (for tools and tests)."""
    rows = {}
    for line in card.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows
