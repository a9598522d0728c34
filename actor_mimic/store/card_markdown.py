"""The Markdown of a dataset card, rendered from the facts gathered from a store.

Pure functions of a `CardFacts` (store/card.py gathers it and writes the file): the YAML front
matter the Hugging Face Hub reads (license, pretty_name, tags, task_categories, size_categories,
viewer), then one section per topic, each a small table or paragraph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import yaml

from actor_mimic.store.schema import lane_prefix, step_fields
from actor_mimic.store.teacher import teacher_outputs, teacher_source

DEFAULT_LICENSE = "other"
TAGS = ("actor-mimic", "atari", "arcade-learning-environment", "policy-distillation", "teacher-dataset")
_SIZE_CATEGORIES = (  # the Hub's buckets: (upper bound, name)
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)


@dataclass(frozen=True)
class CardFacts:
    """What a card says, gathered once from the store (store_card.gather_facts)."""

    name: str  # the store's file or folder name
    attrs: dict  # the store's attribute document
    game: str
    steps: int
    episodes: int
    returns: np.ndarray  # float64 (E,): raw return of each closed episode
    complete: bool
    backend: str  # "zarr" or "hdf5"
    bytes_on_disk: int  # the data's, the card's own file left out
    digest: str | None = None  # the store's content digest (identity.py); None for schema 1

    @property
    def title(self) -> str:
        return _title(self.game)

    @property
    def expert(self) -> dict:
        return self.attrs.get("expert") or {}

    @property
    def expert_metadata(self) -> dict:
        return self.expert.get("metadata") or {}

    @property
    def behaviour(self) -> dict:
        return self.attrs.get("behaviour") or {}


def size_category(num_steps: int) -> str:
    """The Hub's size bucket for a dataset of `num_steps` examples."""
    for bound, name in _SIZE_CATEGORIES:
        if num_steps < bound:
            return name
    return "n>1B"


def card_markdown(facts: CardFacts, license_id: str) -> str:
    """The whole card: front matter, a blank line, the body."""
    return _front(facts, license_id) + "\n" + _body(facts, license_id)


def _title(game: str) -> str:
    return "".join(part.capitalize() for part in game.split("_"))


def _front(facts: CardFacts, license_id: str) -> str:
    document = {
        "pretty_name": f"{facts.title} teacher dataset (actor-mimic)",
        "license": license_id,
        "tags": [*TAGS, facts.game],
        "task_categories": ["reinforcement-learning"],
        "size_categories": [size_category(facts.steps)],
        "viewer": False,
    }
    return "---\n" + yaml.safe_dump(document, sort_keys=False, default_flow_style=False) + "---\n"


def _body(facts: CardFacts, license_id: str) -> str:
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


def _table(rows: Sequence[tuple[str, object]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def _summary(facts: CardFacts) -> str:
    attrs = facts.attrs
    hidden = f"{attrs['hidden_size']} `{facts.expert.get('hidden_layer', '?')}` activations"
    labels = "action logits (its policy is their softmax)" if teacher_outputs(attrs) == "logits" else "Q-values"
    return (
        f"# {facts.title} teacher dataset\n\n"
        f"Expert rollouts of Atari {facts.title} written by `amn collect` of "
        "actor-mimic for Actor-Mimic distillation (Parisotto, Ba & "
        "Salakhutdinov, ICLR 2016). Per step: the newest preprocessed frame (stacks are rebuilt "
        "on read), the action taken, the raw reward, terminated/truncated, lives, and the "
        f"expert's labels: its {labels} over the game's {attrs['num_actions']} actions and its "
        f"{hidden}.\n"
        + (
            f"\nContent digest: `{facts.digest}` (the document and every chunk's checksum; check a download "
            f"with `amn dataset pull URL DIR --digest {facts.digest}`).\n"
            if facts.digest
            else ""
        )
    )


def _contents(facts: CardFacts) -> str:
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
    "q_values": "the expert's outputs over the action set: Q-values, or a policy-gradient teacher's logits",
    "hidden": "the expert's hidden activations",
}


def _fields(facts: CardFacts) -> str:
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


def _environment(facts: CardFacts) -> str:
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
        ("FIRE pressed", ", ".join(when for when, key in (("at reset", "fire_on_reset"), ("after a lost life",
                                   "fire_on_life_loss")) if atari.get(key)) or "never"),
        ("frames", (f"{pre.get('screen_size')}x{pre.get('screen_size')} "
                   f"{'grayscale' if pre.get('grayscale') else 'colour'}"
                   f"{', max of the last two frames of each skip' if pre.get('maxpool_last_two') else ''}")),
        ("stacks", f"{pre.get('stack_size')} frames, padded with {pre.get('stack_padding')} at an episode's start"),
    ]  # fmt: skip
    return "## Game and preprocessing\n\n" + _table(rows)


def _expert(facts: CardFacts) -> str:
    expert, metadata = facts.expert, facts.expert_metadata
    provenance = metadata.get("provenance") or {}
    rows = [
        ("sha256 of the checkpoint file", f"`{expert['sha256']}`" if expert.get("sha256") else "not recorded"),
        ("architecture", metadata.get("architecture")),
        ("outputs (stored as `q_values`)", teacher_outputs(facts.attrs)),
        ("library and algorithm", teacher_source(facts.attrs) or "not recorded (actor-mimic's own DQN, or older)"),
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
    present = [d for d in details if d]
    return text + (f" ({', '.join(present)})" if present else "")


def _behaviour(facts: CardFacts) -> str:
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
        ("acting", behaviour.get("acting", "greedy")),
        ("round", behaviour.get("round") if behaviour.get("round") is not None else "none (the expert's own play)"),
        ("seed", facts.attrs.get("seed")),
        ("parallel environments", facts.attrs.get("num_envs")),
    ]
    return "## Behaviour policy\n\n" + _table(rows)


def _sources(facts: CardFacts) -> str:
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


def _layout(facts: CardFacts) -> str:
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


def _versions(facts: CardFacts) -> str:
    versions = facts.attrs.get("versions") or {}
    segments = facts.attrs.get("segments") or []
    rows = [(name, f"`{version}`" if version else "not installed") for name, version in versions.items()]
    text = "## Library versions\n\n" + (_table(rows) if rows else "Not recorded.\n")
    later = [s for s in segments[1:] if s.get("versions") and s.get("versions") != versions]
    if later:
        text += f"\n{len(later)} resumed run(s) used other versions; see `segments` in the store's metadata.\n"
    return text


def _loading(facts: CardFacts) -> str:
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


def _provenance(facts: CardFacts, license_id: str) -> str:
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
