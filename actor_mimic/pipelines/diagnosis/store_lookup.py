"""Is a state the student reached in a teacher store, and how often did the teacher get there?

For the states a diagnosis kept before each lost life (deaths.npz), against the teacher stores
of the game (every lane, closed episodes only, each chunk checked against its checksum):

- exact matches, by hashes: how many stored steps have the same newest frame, and how many
  the same whole frame stack (the K frames the networks see, zero frames before an episode's
  start, as the stores rebuild them). Frames are uint8, so a hash of their bytes (BLAKE2b,
  128 bits) is an exact test;
- optionally (`nearest`) the stored frame nearest to each state's newest frame (Euclidean
  distance over the pixels, reported as the RMS pixel difference, 0..255) and its score;
- the score: each stored step's score is its episode's return before it, as for the
  student's steps, so the stores' steps per bin of the diagnosis' by_score table say how much
  of the teacher's data comes from the stage where the student dies.

    store_lookup.csv   one row per kept state: death, position before it, score, matches,
                       nearest distance and score
    store_lookup.json  the stores, the per-death summary (the fatal state's matches, the share
                       of the kept states found, stored steps in the death's score bin) and
                       by_score with the stored steps per bin

The nearest-frame search reads every stored frame once per lookup and multiplies it against
every kept state, in float64 (exact distances): a few minutes per 100k stored steps and 1,000
kept states on one core.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from actor_mimic.common.atari import preprocessing_differences
from actor_mimic.common.outputs import write_text
from actor_mimic.datasets.shard import store_preprocessing
from actor_mimic.errors import UserError
from actor_mimic.pipelines.diagnosis.report import csv_text
from actor_mimic.store import open_store, read_field

BLOCK = 4096  # stored frames read (and compared) at a time
LOOKUP_COLUMNS = ("death", "before", "score", "frame_matches", "stack_matches", "nearest_rms", "nearest_score",
                  "nearest_store", "nearest_lane", "nearest_row")  # fmt: skip


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def stack_digest(frame_digests: list[bytes]) -> bytes:
    """A stack's digest from its frames' digests, oldest first."""
    return digest(b"".join(frame_digests))


@dataclass
class StoreStates:
    """What the stores hold, as counts of digests and every stored step's score."""

    paths: list[str]
    frames: dict[bytes, int] = field(default_factory=dict)
    stacks: dict[bytes, int] = field(default_factory=dict)
    scores: list[np.ndarray] = field(default_factory=list)  # float64 per lane
    episode_returns: list[float] = field(default_factory=list)
    nearest: Nearest | None = None

    @property
    def all_scores(self) -> np.ndarray:
        return np.concatenate(self.scores) if self.scores else np.zeros(0)


class Nearest:
    """The running nearest stored frame of each query frame (Q, H*W)."""

    def __init__(self, queries: np.ndarray):
        # float64: sums of squared pixel differences (< 2**53) come out exact, so an identical
        # frame is at distance 0 (float32 loses that to the cancellation of large norms).
        self.queries = torch.from_numpy(queries.reshape(len(queries), -1).astype(np.float64))
        self.norms = (self.queries**2).sum(dim=1)
        self.distance = np.full(len(queries), np.inf)
        self.where = np.full((len(queries), 3), -1, dtype=np.int64)  # store, lane, row
        self.score = np.full(len(queries), np.nan)

    def update(self, frames: np.ndarray, store: int, lane: int, first_row: int, scores: np.ndarray) -> None:
        block = torch.from_numpy(frames.reshape(len(frames), -1).astype(np.float64))
        squared = self.norms[:, None] + (block**2).sum(dim=1)[None, :] - 2 * self.queries @ block.T
        smallest, column = squared.min(dim=1)
        best = smallest.clamp_min(0).numpy()
        better = best < self.distance
        self.distance[better] = best[better]
        rows = column.numpy()[better]
        self.where[better] = np.stack([np.full(len(rows), store), np.full(len(rows), lane), first_row + rows], 1)
        self.score[better] = scores[rows]


def index_stores(paths: list[str], game: str, preprocessing: dict, queries: np.ndarray | None = None) -> StoreStates:
    """Digests and scores of every closed episode's steps of the stores at `paths` (all of
    `game`, with `preprocessing`); with `queries` (Q, H, W) uint8, their nearest frames too."""
    states = StoreStates([str(p) for p in paths])
    if queries is not None:
        states.nearest = Nearest(queries)
    for number, path in enumerate(paths):
        with open_store(path, allow_incomplete=True) as (backend, info):
            if info.game != game:
                raise UserError(f"{path} is a teacher store of {info.game}, not {game}: give {game}'s stores")
            found = store_preprocessing(info.attrs)
            if found != preprocessing:
                raise UserError(f"{path} holds other observations than the diagnosis "
                                f"({preprocessing_differences(preprocessing, found)})")  # fmt: skip
            stack_size = int(preprocessing["stack_size"])
            for lane_number, lane in enumerate(info.lanes):
                _index_lane(states, backend, info.attrs, lane, number, lane_number, stack_size)
            states.episode_returns += [float(r) for r in info.episode_returns]
    return states


def _index_lane(states: StoreStates, backend, attrs: dict, lane, store: int, lane_number: int, stack_size: int):
    rows = lane.num_steps
    if rows == 0:
        return
    rewards = read_field(backend, attrs, lane.prefix, "rewards", 0, rows).astype(np.float64)
    starts = np.zeros(rows, dtype=np.int64)  # the first row of each row's episode
    scores = np.zeros(rows, dtype=np.float64)  # the episode's return before each row
    for start, length in zip(lane.episode_starts, lane.episode_lengths):
        starts[start : start + length] = start
        within = rewards[start : start + length]
        scores[start : start + length] = np.concatenate([[0.0], np.cumsum(within)[:-1]])
    states.scores.append(scores)
    frame_digests: list[bytes] = []
    zero = None
    for low in range(0, rows, BLOCK):
        frames = read_field(backend, attrs, lane.prefix, "frames", low, min(rows, low + BLOCK))
        if zero is None:
            zero = digest(np.zeros_like(frames[0]).tobytes())
        frame_digests += [digest(frame.tobytes()) for frame in frames]
        if states.nearest is not None:
            states.nearest.update(frames, store, lane_number, low, scores[low : low + len(frames)])
    for row, frame in enumerate(frame_digests):
        states.frames[frame] = states.frames.get(frame, 0) + 1
        window = [frame_digests[r] if r >= starts[row] else zero for r in range(row - stack_size + 1, row + 1)]
        key = stack_digest(window)  # type: ignore[arg-type]  # zero is set: the lane has rows
        states.stacks[key] = states.stacks.get(key, 0) + 1


def match_counts(stacks: np.ndarray, states: StoreStates) -> tuple[np.ndarray, np.ndarray]:
    """int64 (Q,) each: stored steps with the same newest frame, with the same whole stack."""
    frames = np.zeros(len(stacks), dtype=np.int64)
    whole = np.zeros(len(stacks), dtype=np.int64)
    for q, stack in enumerate(stacks):
        digests = [digest(frame.tobytes()) for frame in stack]
        frames[q] = states.frames.get(digests[-1], 0)
        whole[q] = states.stacks.get(stack_digest(digests), 0)
    return frames, whole


def lookup_folder(folder: Path, stores: list[str], preprocessing: dict, nearest: bool = False) -> dict:
    """Look the states a diagnosis kept in `folder` up in `stores`; write store_lookup.csv and
    .json there (checked by the caller) and return the JSON document."""
    summary = json.loads((folder / "summary.json").read_text())
    with np.load(folder / "deaths.npz", allow_pickle=False) as deaths:
        stacks, valid, scores = deaths["stacks"], deaths["valid"], deaths["scores"]
    queries = stacks[valid]  # (Q, K, H, W), death after death, oldest first
    query_scores = scores[valid]
    death_of, position = np.nonzero(valid)
    before = valid.shape[1] - 1 - position  # windows are right-aligned: the fatal state is last
    states = index_stores(stores, summary["game"], preprocessing, queries[:, -1] if nearest else None)
    frame_matches, stack_matches = match_counts(queries, states)
    found = states.nearest
    rows: list[dict] = []
    for q in range(len(queries)):
        rows.append({
            "death": int(death_of[q]), "before": int(before[q]), "score": float(query_scores[q]),
            "frame_matches": int(frame_matches[q]), "stack_matches": int(stack_matches[q]),
            "nearest_rms": None if found is None else float(np.sqrt(found.distance[q] / queries[q, -1].size)),
            "nearest_score": None if found is None else float(found.score[q]),
            "nearest_store": None if found is None else int(found.where[q, 0]),
            "nearest_lane": None if found is None else int(found.where[q, 1]),
            "nearest_row": None if found is None else int(found.where[q, 2]),
        })  # fmt: skip
    store_scores = states.all_scores
    last_edge = summary["by_score"][-1]["high"]
    by_score = []
    for row in summary["by_score"]:
        inside = (store_scores >= row["low"]) & (store_scores < row["high"])
        by_score.append({**row, "store_steps": int(inside.sum())})
    per_death: list[dict] = []
    for number, death in enumerate(summary["deaths"]):
        mine = [row for row in rows if row["death"] == number]
        fatal = next(row for row in mine if row["before"] == 0)
        score_bin = next((row for row in by_score if row["low"] <= death["score"] < row["high"]), None)
        per_death.append({
            "death": number, "score": death["score"], "fatal_frame_matches": fatal["frame_matches"],
            "fatal_stack_matches": fatal["stack_matches"], "fatal_nearest_rms": fatal["nearest_rms"],
            "kept_states": len(mine), "kept_frames_in_store": sum(row["frame_matches"] > 0 for row in mine),
            "kept_stacks_in_store": sum(row["stack_matches"] > 0 for row in mine),
            "store_steps_in_score_bin": None if score_bin is None else score_bin["store_steps"],
        })  # fmt: skip
    document = {
        "stores": states.paths, "store_steps": len(store_scores),
        "store_episodes": len(states.episode_returns), "store_episode_returns": states.episode_returns,
        "store_max_score": float(store_scores.max()) if len(store_scores) else None,
        "store_steps_above_last_bin": int((store_scores >= last_edge).sum()),
        "deaths": per_death, "by_score": by_score,
    }  # fmt: skip
    write_text(folder / "store_lookup.csv", csv_text(rows, LOOKUP_COLUMNS))
    write_text(folder / "store_lookup.json", json.dumps(document, indent=1) + "\n")
    return document
