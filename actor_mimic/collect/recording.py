"""`Recording`: what the collector's rollout sends to the store, one lane per env.

The rollout (collector.py) tells it, per lane and step, the state half of a row (before the
envs step: newest frame, lives, action, the expert's labels) and then its outcome (reward,
terminated, truncated). Each lane's rows gather in a `RowBuffer`; a full buffer, or a lane's
last rows, go to the store on the background writer thread (writer.py), in the order the
rollout produced them. `stop` closes the store, recording in this run's entry of the store's
`segments` where each lane stood and why the run stopped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actor_mimic.collect.rows import RowBuffer
from actor_mimic.collect.store_opening import BackgroundWriter
from actor_mimic.common.outputs import remove
from actor_mimic.store import refresh_card


class Recording:
    """Rows of every lane on their way to the store `writer` (a StoreWriter, one lane per env)."""

    def __init__(
        self, out, writer, fields: dict, chunk_len: int, start_steps: list[int], versions: dict, resumed: bool
    ):
        self.out = out  # the store's name, for its card and for messages
        self.writer = writer
        self.resumed = resumed  # the store existed before this run
        # This run's entry in the store's list of segments (runs that wrote it): a resume may
        # run other library versions.
        self.segment = {"start_steps": start_steps, "versions": versions}
        writer.attrs.setdefault("segments", []).append(self.segment)
        self.buffers = [RowBuffer(fields, chunk_len) for _ in range(writer.num_lanes)]
        self.background = BackgroundWriter(writer)

    def add_states(self, lanes: list[int], frames: np.ndarray, lives, actions, q_values, hidden) -> None:
        """The state half of the row of each of `lanes` (the arrays: one row per lane, in that
        order); frames uint8 (n, H, W): the newest of each stack."""
        for i, lane in enumerate(lanes):
            self.buffers[lane].add_state(frames[i], lives[i], actions[i], q_values[i], hidden[i])

    def add_outcome(self, env: int, reward, terminated, truncated) -> None:
        """The outcome half of env's row; a full buffer is sent to the store."""
        self.buffers[env].add_outcome(reward, terminated, truncated)
        if self.buffers[env].full:
            self.background.submit(self.writer.append, env, self.buffers[env].take())

    def finish_lane(self, env: int, cut: bool) -> None:
        """The lane reached its quota: its last rows, then its record marked complete."""
        self.background.submit(_finish_lane, self.writer, env, self.buffers[env].take(), cut)

    def drain(self) -> None:
        """Wait until every row handed over is written (errors are raised here)."""
        self.background.drain()

    def stop(self, complete: bool, reason: str) -> None:
        """Close the store, recording why it stopped. Rows short of a chunk are not kept."""
        self.background.drain()
        self.segment.update(end_steps=[record["steps"] for record in self.writer.lanes], stopped_by=reason)
        self.writer.close(complete=complete)
        if self.writer.num_steps or complete:  # (a run that stored nothing removes its store)
            refresh_card(self.out)  # the store changed: its README.md says what it now holds

    def kept(self) -> tuple[int, int]:
        """(steps, episodes) the store holds."""
        return self.writer.num_steps, self.writer.num_episodes

    def what_was_kept(self) -> str:
        """After a failure: keep what earlier steps stored, remove a store this run made empty."""
        if self.writer.num_steps == 0 and not self.resumed:
            remove(Path(self.writer.backend.path))  # the new store, or an HDF5 store's collection in progress
            return "nothing was written"
        return f"{self.out} keeps the {self.writer.num_steps} steps stored before it, marked incomplete"

    def shutdown(self) -> None:
        self.background.shutdown()


def _finish_lane(writer, lane: int, rows: dict, cut: bool) -> None:
    writer.append(lane, rows)
    writer.finish_lane(lane, cut=cut)
