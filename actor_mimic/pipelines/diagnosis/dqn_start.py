"""A DQN's first updates, replayed: what its Q-values do, action by action.

A DQN run is deterministic given its settings and seed (transfer/learner.py), so its start can
be replayed from what the run recorded (its checkpoint's state, or the `finished.json` that
`amn transfer` keeps with the logs) and the network it started from (random init, or the AMN
`--init` names, checked against the sha256 the run recorded). The replay is the run's own
learner, in a folder of its own, recording as it learns:

- a fixed set of probe states, drawn uniformly from the replay memory when learning starts
  (the states the DQN learns from), and every `every` updates the Q-value of every game action
  on each of them (update 0: the initial network);
- on the states the agent acts on (the environments' current stacks, after every update),
  which action is greedy.

From these: is some action's value far off the rest (its mean Q against the median over the
actions, in units of their median absolute deviation), which action is greedy on most probe
states, and for how many updates in a row. The replay's episodes and evaluations are compared
with the run's logs row by row: identical rows show the replay is the run. A "what if" has no
log to compare with: `--fresh-head` (the same run with a new output layer over the AMN's hidden
layers) or `--what-if` (the run's settings and seed from another `--init`, or from a random
network).

    summary.json   the run, the reproduction check, the Q-values at the start and at the end,
                   the outlying actions, the greedy runs (action, first and last update)
    updates.csv    per recorded update: step, epsilon, loss, the dominant greedy action and its
                   share (probe states, acting states), the spread and margin of the Q-values
    q_values.csv   per recorded update and action: mean and std of Q over the probe states,
                   its greedy share on the probe and on the acting states
    probe.npz      the probe stacks (P, K, H, W) and their Q-values at every record (R, P, A)
    q_values.png   the mean Q per action, the greedy shares, the episodes' lengths
    run/           the replay's own logs (episodes.csv, training.csv, evaluations.csv)
    dqn.safetensors, dqn-step<N>.safetensors
                   the replayed network at the end and at the steps asked for (float32
                   expert checkpoints: `amn diagnose play --student` plays them)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from actor_mimic.common.atari import ALE_ACTION_NAMES, AtariConfig, action_set
from actor_mimic.common.checkpoint import file_sha256
from actor_mimic.errors import UserError
from actor_mimic.pipelines.diagnosis.report import csv_text
from actor_mimic.transfer import run_state
from actor_mimic.transfer.config import DQNConfig, epsilon_at
from actor_mimic.transfer.export import export_expert
from actor_mimic.transfer.initialisation import fresh_network, network_from_amn
from actor_mimic.transfer.learner import DQNLearner
from actor_mimic.transfer.logs import read_csv
from actor_mimic.transfer.losses import game_q_values

MARK = "amn diagnose dqn"
PROBE_SEED = 12345  # the probe draw's own generator: the run's stays untouched
OUTLIER_MADS = 5.0  # an action's mean Q this many median absolute deviations from the median
UPDATE_COLUMNS = ("update", "step", "epsilon", "loss", "probe_greedy", "probe_greedy_share", "acting_greedy",
                  "acting_greedy_share", "q_spread", "q_margin")  # fmt: skip
Q_COLUMNS = ("update", "step", "action", "q_mean", "q_std", "probe_greedy_share", "acting_greedy_share")


@dataclass
class RecordedRun:
    """What a run recorded about how it started."""

    atari: AtariConfig
    config: DQNConfig
    provenance: dict
    source: Path  # the file these came from


def recorded_run(run_dir: str, game: str | None) -> RecordedRun:
    """The settings of the run in `run_dir`: its checkpoint's state, else its finished.json
    (which records no Atari settings: `game` with the shared defaults, as `amn transfer` runs)."""
    folder = Path(run_dir)
    checkpoint = run_state.checkpoint_dir(folder)
    if checkpoint is not None:
        state = run_state.read_state(checkpoint)
        atari = AtariConfig.from_dict(state["atari"])
        if game is not None and AtariConfig(game).game != atari.game:
            raise UserError(f"{run_dir} is a run of {atari.game}, not {game}: drop --game")
        return RecordedRun(atari, DQNConfig.from_dict(state["config"]), state["provenance"], checkpoint / "state.json")
    record = folder / "finished.json"
    if not record.is_file():
        raise UserError(f"{run_dir} holds no DQN run (neither checkpoint/ nor finished.json): give a run's folder")
    try:
        document = json.loads(record.read_text())
        config, provenance = DQNConfig.from_dict(document["dqn_config"]), dict(document["provenance"])
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{record} is not a finished-run record of amn transfer") from None
    if game is None:
        raise UserError(f"{record} does not say which game the run played: give --game")
    return RecordedRun(AtariConfig(game), config, provenance, record)


def starting_network(run: RecordedRun, init: str | None, fresh_head: bool, what_if: bool):
    """The network the run started from; with `what_if` (or `fresh_head` on a run that had
    none), the network asked for instead: `init`'s AMN (with a new output layer if
    `fresh_head`), or a random one without `init`. Its seed is always the run's."""
    kind = run.provenance.get("init")
    if kind not in ("random", "amn"):
        raise UserError(f"this run started from {kind!r}: only runs from a random network or an AMN are replayed")
    if fresh_head and run.provenance.get("fresh_head"):
        raise UserError("this run already started with a fresh output layer: drop --fresh-head")
    if fresh_head and init is None:
        raise UserError("--fresh-head replaces the output layer of an AMN: give the AMN with --init")
    if what_if or fresh_head:
        if init is None:
            return fresh_network(run.atari, seed=run.config.seed)
        return network_from_amn(init, run.atari, fresh_head=fresh_head, seed=run.config.seed)
    if kind == "random":
        if init:
            raise UserError("this run started from a random network: drop --init, or pass --what-if to replay "
                            "its settings from this AMN")  # fmt: skip
        return fresh_network(run.atari, seed=run.config.seed)
    if init is None:
        raise UserError(f"this run started from the AMN {run.provenance.get('init_checkpoint')}: give it with --init")
    expected = run.provenance.get("init_checkpoint_sha256")
    if expected and file_sha256(init) != expected:
        raise UserError(f"--init {init} is not the AMN this run started from (it recorded sha256 {expected[:12]}...): "
                        "give that AMN, or pass --what-if to replay the run's settings from this one")  # fmt: skip
    return network_from_amn(init, run.atari, fresh_head=bool(run.provenance.get("fresh_head")), seed=run.config.seed)


class QRecorder:
    """The Q-values of the learner's network on the probe states, every `every` updates."""

    def __init__(self, every: int, probe_states: int, export_at: list[int], out: Path):
        self.every, self.probe_states, self.out = every, probe_states, out
        self.export_at = sorted(export_at)
        self.probe: torch.Tensor | None = None
        self.rows: list[dict] = []
        self.q_values: list[np.ndarray] = []  # (P, A) per record
        self.acting_counts: np.ndarray | None = None  # greedy counts on the acting states since the last record
        self.exported: list[str] = []

    def record(self, learner: DQNLearner, force: bool = False) -> None:
        """Count the acting states' greedy actions; every `every` updates (or when `force`d),
        record the Q-values on the probe states."""
        if self.probe is None:
            config = learner.config
            batch = learner.replay.sample(self.probe_states, np.random.default_rng(PROBE_SEED), config.n_step,
                                          config.discount, config.clip_rewards)  # fmt: skip
            self.probe = torch.from_numpy(batch.frames)
            self.acting_counts = np.zeros(learner.actor.num_actions, dtype=np.int64)
        index = torch.as_tensor(learner.learning.output_indices, dtype=torch.long)
        assert self.acting_counts is not None and learner.frames is not None
        with torch.no_grad():
            if not force:  # a forced record follows the last update's, which counted them
                acting = game_q_values(learner.online, torch.from_numpy(learner.frames), index).argmax(dim=1)
                self.acting_counts += np.bincount(acting.numpy(), minlength=learner.actor.num_actions)
            if learner.updates % self.every and not force:
                self._export_due(learner)
                return
            q_values = game_q_values(learner.online, self.probe, index).numpy()
        self.q_values.append(q_values)
        probe_shares = np.bincount(q_values.argmax(axis=1), minlength=learner.actor.num_actions) / len(q_values)
        acting_shares = self.acting_counts / max(1, self.acting_counts.sum())
        self.acting_counts[:] = 0
        self.rows.append({"update": learner.updates, "step": learner.step, "loss": learner.learning.last_loss,
                          "epsilon": epsilon_at(learner.config, learner.step),
                          "probe_shares": probe_shares, "acting_shares": acting_shares})  # fmt: skip
        self._export_due(learner)

    def _export_due(self, learner: DQNLearner) -> None:
        while self.export_at and learner.step >= self.export_at[0]:
            step = self.export_at.pop(0)
            path = self.out / f"dqn-step{step}.safetensors"
            export_expert(learner, path, None, "float32")
            self.exported.append(path.name)


class ReplayingLearner(DQNLearner):
    """The run's learner, recording its Q-values when learning starts and after every update
    (an update hook), and saving no checkpoint: the replay's records and logs are its output."""

    recorder: QRecorder

    def learn(self) -> None:
        if self.updates == 0 and self.learning.updates_due(self.step, self.replay) > 0:
            self.recorder.record(self)  # the initial network, when learning starts
        super().learn()

    def save(self) -> Path:
        self.logger.flush()
        return self.run_dir


def replay_start(run: RecordedRun, init, steps: int, recorder: QRecorder, out: Path,
                 progress: bool = False) -> ReplayingLearner:  # fmt: skip
    """Replay the run's first `steps` agent steps into `out/run`, recording."""
    config = dataclasses.replace(run.config, total_steps=steps, max_wall_minutes=0.0)
    learner = ReplayingLearner(run.atari, config, init, out / "run", progress=progress, tensorboard=False)
    learner.recorder = recorder
    learner.update_hooks.append(lambda statistics: recorder.record(learner))
    try:
        learner.run()
        if learner.updates and (not recorder.rows or recorder.rows[-1]["update"] != learner.updates):
            recorder.record(learner, force=True)  # the last update, whatever `every`
        export_expert(learner, out / "dqn.safetensors", None, "float32")
    finally:
        learner.close()
    return learner


def reproduction(run_dir: Path, replay_dir: Path, steps: int) -> dict:
    """The replay's episodes and evaluations against the run's logs, up to the replay's steps."""
    result: dict = {}
    for name, keys in (("episodes", ("step", "env", "return", "length")),
                       ("evaluations", ("step", "mean", "episodes", "eval_steps"))):  # fmt: skip
        logged = [tuple(row[k] for k in keys) for row in read_csv(run_dir / f"{name}.csv") if row["step"] <= steps]
        replayed = [tuple(row[k] for k in keys) for row in read_csv(replay_dir / f"{name}.csv") if row["step"] <= steps]
        same = sum(a == b for a, b in zip(logged, replayed))
        first = next((i for i, (a, b) in enumerate(zip(logged, replayed)) if a != b), None)
        result[name] = {
            "logged": len(logged), "replayed": len(replayed), "identical": same,
            "first_difference": None if first is None else {"logged": dict(zip(keys, logged[first])),
                                                            "replayed": dict(zip(keys, replayed[first]))},
        }  # fmt: skip
    result["reproduced"] = all(r["identical"] == r["logged"] == r["replayed"] for r in result.values())
    return result


def greedy_runs(dominant: list[int], updates: list[int], names: list[str]) -> list[dict]:
    """Maximal stretches of records with the same dominant greedy action."""
    runs: list[dict] = []
    for action, update in zip(dominant, updates):
        if runs and runs[-1]["action"] == names[action]:
            runs[-1]["last_update"] = update
        else:
            runs.append({"action": names[action], "first_update": update, "last_update": update})
    for run in runs:
        run["updates"] = run["last_update"] - run["first_update"]
    return runs


def outlying_actions(q_means: np.ndarray, names: list[str]) -> list[dict]:
    """Actions whose mean Q lies more than OUTLIER_MADS median absolute deviations from the
    median over the actions (q_means (A,))."""
    median = float(np.median(q_means))
    mad = float(np.median(np.abs(q_means - median)))
    if mad == 0:
        mad = float(np.finfo(np.float32).eps * max(1.0, abs(median)))
    return [{"action": names[a], "q_mean": float(q), "mads_from_median": float((q - median) / mad)}
            for a, q in enumerate(q_means) if abs(q - median) > OUTLIER_MADS * mad]  # fmt: skip


def write_records(out: Path, run: RecordedRun, recorder: QRecorder, learner: ReplayingLearner, checked: dict | None,
                  what_if: dict | None) -> dict:  # fmt: skip
    """Every file of the module docstring but the network exports; returns the summary."""
    from actor_mimic.pipelines.diagnosis.plots import plot_q_values

    names = [ALE_ACTION_NAMES[a] for a in action_set(run.atari)]
    q = np.stack(recorder.q_values) if recorder.q_values else np.zeros((0, 0, len(names)), np.float32)
    means, stds = q.mean(axis=1), q.std(axis=1)
    sorted_q = np.sort(q, axis=2)
    margins = (sorted_q[:, :, -1] - sorted_q[:, :, -2]).mean(axis=1) if len(names) > 1 else np.zeros(len(q))
    updates_rows, q_rows = [], []
    for r, row in enumerate(recorder.rows):
        probe, acting = row["probe_shares"], row["acting_shares"]
        updates_rows.append({
            "update": row["update"], "step": row["step"], "epsilon": row["epsilon"], "loss": row["loss"],
            "probe_greedy": names[int(probe.argmax())], "probe_greedy_share": float(probe.max()),
            "acting_greedy": names[int(acting.argmax())], "acting_greedy_share": float(acting.max()),
            "q_spread": float(means[r].max() - means[r].min()), "q_margin": float(margins[r]),
        })  # fmt: skip
        for a, name in enumerate(names):
            q_rows.append({"update": row["update"], "step": row["step"], "action": name,
                           "q_mean": float(means[r, a]), "q_std": float(stds[r, a]),
                           "probe_greedy_share": float(probe[a]), "acting_greedy_share": float(acting[a])})  # fmt: skip
    (out / "updates.csv").write_text(csv_text(updates_rows, UPDATE_COLUMNS))
    (out / "q_values.csv").write_text(csv_text(q_rows, Q_COLUMNS))
    probe = recorder.probe.numpy() if recorder.probe is not None else np.zeros((0,), np.uint8)
    updates = np.array([row["update"] for row in recorder.rows], dtype=np.int64)
    np.savez_compressed(out / "probe.npz", stacks=probe, q_values=q, updates=updates,
                        steps=np.array([row["step"] for row in recorder.rows], dtype=np.int64))  # fmt: skip
    dominant = [int(row["probe_shares"].argmax()) for row in recorder.rows]
    runs = greedy_runs(dominant, updates.tolist(), names)
    summary = {
        "diagnosis": MARK, "game": run.atari.game, "recorded_in": str(run.source), "provenance": run.provenance,
        "what_if": what_if, "steps": learner.step, "updates": learner.updates,
        "every": recorder.every, "probe_states": len(probe), "actions": names, "reproduction": checked,
        "start": _snapshot(updates_rows, means, 0, names) if len(q) else None,
        "end": _snapshot(updates_rows, means, len(q) - 1, names) if len(q) else None,
        "greedy_runs": runs,
        "longest_greedy_run": max(runs, key=lambda r: r["updates"]) if runs else None,
        "exported": ["dqn.safetensors", *recorder.exported],
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    episodes = [(row["step"], row["length"]) for row in read_csv(out / "run" / "episodes.csv")]
    start = f"{run.provenance.get('init')} init"
    if what_if:
        start = "what if: " + ("a random network" if what_if["init"] is None else Path(what_if["init"]).name)
        start += " with a fresh head" if what_if["fresh_head"] else ""
    title = f"{run.atari.game}: the first {learner.updates:,} updates ({start})"
    if len(q):
        plot_q_values(out / "q_values.png", title, updates, means, np.stack([r["probe_shares"] for r in recorder.rows]),
                      names, episodes)  # fmt: skip
    return summary


def _snapshot(rows: list[dict], means: np.ndarray, r: int, names: list[str]) -> dict:
    return {**rows[r], "q_means": {name: float(q) for name, q in zip(names, means[r])},
            "outlying_actions": outlying_actions(means[r], names)}  # fmt: skip
