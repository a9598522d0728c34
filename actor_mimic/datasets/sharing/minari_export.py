"""`amn dataset export-minari STORE DATASET_ID`: a teacher store as a Minari dataset.

Minari (Farama's format for offline RL data) is what d3rlpy, CORL and Minari's own tools
read. Each closed episode of the store becomes one Minari episode, lane after lane:

    observations  uint8 (T+1, 4, 84, 84)  the stacked frames the agent saw, rebuilt from the
                                           stored frames as every reader does (stacking.py)
    actions       int  (T,)                the action the acting policy chose, an index into
                                           the game's minimal action set: the env's own actions
    rewards, terminations, truncations (T,) as stored (raw rewards)
    infos         (T+1,) per observation:  q_values (the expert's, as stored), hidden (its
                                           activations, gathered), lives, lane (of the store),
                                           stored (False for the final entry, see below)

Choices, and why:

- **Stacks, not single frames.** Minari consumers feed observations to a network as they
  are; a consumer should not have to know the zero-padded stacking rule. It costs 4x the
  frames' size, and Minari's HDF5 files are uncompressed.
- **The final observation.** Minari stores T+1 observations per episode (the one after the
  last action too). A store keeps only the observations acted on, so the final entry
  repeats the last stored one (and its infos), marked `stored: False`. After a termination
  it is never used for a target; after a truncation, bootstrapping from it is an
  approximation: use `infos["stored"]` to drop it.
- **Episodes the steps budget cut are exported truncated**, as the store flags them (their
  list is `cut_episodes` in its metadata): the game went on, so a learner bootstraps there.
- **Unfinished episodes are dropped** (an interrupted store, with `--allow-incomplete`):
  steps after a lane's last end flag belong to an episode that was still running when the
  collection stopped; no reader serves them, and they have no last step to flag.
- **Lossless.** Minari JPEG-encodes image observations by default; this exports with
  `jpeg_encoding=False`, so every byte equals the store's.
- **The environment.** The dataset records the env spec of `ALE/<Game>-v5` with the store's
  Atari settings and the gymnasium wrappers `make_env` applies (AtariPreprocessing, frame
  stacking), so `dataset.recover_environment()` gives an environment that shows the same
  observations (with ale-py installed).

The dataset is written in a temporary Minari folder and moved into place when whole
(common/outputs.py); an existing dataset of that id is replaced only with `overwrite`, and
only if actor-mimic exported it (its metadata has an `actor_mimic` record).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from actor_mimic.common.atari import AtariConfig, display_name, make_env
from actor_mimic.common.outputs import Output, atomic_output, check_folder, check_output, remove, shown
from actor_mimic.datasets.block_stacks import build_stacks
from actor_mimic.errors import UserError
from actor_mimic.store import lane_sources, open_store, read_field

ALGORITHM = "actor-mimic teacher"
ENV_VARIABLE = "MINARI_DATASETS_PATH"


def export_minari(
    store: str | Path,
    dataset_id: str,
    data_path: str | Path | None = None,
    overwrite: bool = False,
    allow_incomplete: bool = False,
    author: str | None = None,
    author_email: str | None = None,
) -> Path:
    """Write the closed episodes of the store `store` (complete, unless `allow_incomplete`)
    as the Minari dataset `dataset_id` in `data_path` (default: Minari's own,
    $MINARI_DATASETS_PATH or ~/.minari/datasets). Returns its folder."""
    minari = _minari()
    namespace = _check_id(minari, dataset_id)
    root = _datasets_root(data_path)
    what = Output("Minari dataset", flag="DATASET_ID", folder=True, is_ours=is_our_export)
    target = check_output(root / dataset_id, what, replace=overwrite)
    with open_store(store, allow_incomplete=allow_incomplete) as (backend, info):
        if info.num_episodes == 0:
            raise UserError(f"{store} holds no finished episode: there is nothing to export")
        atari = AtariConfig.from_dict(info.attrs["atari"])
        env = make_env(atari)
        with atomic_output(target) as partial:
            scratch = Path(tempfile.mkdtemp(prefix=".amn-export-", dir=partial.parent))
            try:
                with _minari_root(scratch), warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # Minari's advice on optional fields
                    dataset = minari.create_dataset_from_buffers(
                        dataset_id,
                        _episodes(minari, backend, info, atari.stack_size),  # one episode in memory at a time
                        env=_env_spec(env),
                        algorithm_name=ALGORITHM,
                        author=author,
                        author_email=author_email,
                        observation_space=env.observation_space,
                        action_space=env.action_space,
                        description=_description(info, atari),
                        jpeg_encoding=False,
                    )
                    dataset.storage.update_metadata({"actor_mimic": _record(store, info)})
                os.rename(scratch / dataset_id, partial)
            finally:
                remove(scratch)
        env.close()
    if namespace is not None:
        with _minari_root(root):
            if namespace not in minari.namespace.list_local_namespaces():
                minari.namespace.create_namespace(namespace)
    return target


def _minari():
    try:
        import minari
        import minari.namespace
    except ImportError:
        raise UserError("export-minari needs the minari package: pip install 'actor-mimic[minari]'") from None
    return minari


def _check_id(minari, dataset_id: str) -> str | None:
    """The namespace of a well-formed dataset id (Minari's own rule), else a UserError."""
    if not isinstance(dataset_id, str) or not dataset_id.isprintable() or ".." in dataset_id.split("/"):
        raise UserError(f"DATASET_ID {shown(dataset_id)} is not a Minari dataset id")
    try:  # (minari 0.5.4 raises TypeError for an id without its version)
        namespace, _name, _version = minari.dataset.minari_dataset.parse_dataset_id(dataset_id)
    except (ValueError, TypeError):
        raise UserError(
            f"DATASET_ID {dataset_id!r} is not a Minari dataset id: use (namespace/)name-vN, "
            "e.g. atari/breakout/teacher-v0"
        ) from None
    return namespace


def _datasets_root(data_path) -> Path:
    if data_path is None:
        data_path = os.environ.get(ENV_VARIABLE) or Path.home() / ".minari" / "datasets"
    return check_folder(data_path, "--data-path", "Minari datasets folder")


@contextlib.contextmanager
def _minari_root(folder: Path):
    """Minari finds its datasets folder in an environment variable only: set it, then restore."""
    before = os.environ.get(ENV_VARIABLE)
    os.environ[ENV_VARIABLE] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_VARIABLE, None)
        else:
            os.environ[ENV_VARIABLE] = before


def is_our_export(path: Path) -> bool:
    """A Minari dataset folder whose metadata says actor-mimic exported it."""
    try:
        metadata = json.loads((path / "data" / "metadata.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and isinstance(metadata.get("actor_mimic"), dict)


def _episodes(minari, backend, info, stack_size: int):
    """One EpisodeBuffer per closed episode, lane after lane (unfinished tails dropped)."""
    episode_id = 0
    for lane_index, lane in enumerate(info.lanes):
        for start, length in zip(lane.episode_starts.tolist(), lane.episode_lengths.tolist()):
            stop = start + length
            rows = {
                name: read_field(backend, info.attrs, lane.prefix, name, start, stop)
                for name in ("frames", "actions", "rewards", "terminated", "truncated", "lives", "q_values", "hidden")
            }
            steps = np.arange(start, stop, dtype=np.int64)
            stacks = build_stacks(rows["frames"], start, steps, np.full(length, start), stack_size)
            yield minari.data_collector.EpisodeBuffer(
                id=episode_id,
                observations=_with_final(stacks),
                actions=rows["actions"].astype(np.int64),
                rewards=rows["rewards"],
                terminations=rows["terminated"],
                truncations=rows["truncated"],
                infos={
                    "q_values": _with_final(rows["q_values"]),
                    "hidden": _with_final(rows["hidden"]),
                    "lives": _with_final(rows["lives"]),
                    "lane": np.full(length + 1, lane_index, dtype=np.int32),
                    "stored": np.arange(length + 1) < length,
                },
            )
            episode_id += 1


def _with_final(values: np.ndarray) -> np.ndarray:
    """`values` (T, ...) and its last row again: Minari's T+1 entries (see the docstring)."""
    return np.concatenate([values, values[-1:]])


def _env_spec(env):
    """`make_env`'s spec, with the frame stack's padding given by name ("zero": the same zero
    frames) instead of an array, so Minari can store it as JSON and rebuild the env."""
    wrappers = tuple(
        dataclasses.replace(wrapper, kwargs={**wrapper.kwargs, "padding_type": "zero"})
        if "padding_type" in (wrapper.kwargs or {})
        else wrapper
        for wrapper in env.spec.additional_wrappers
    )
    return dataclasses.replace(env.spec, additional_wrappers=wrappers)


def _description(info, atari: AtariConfig) -> str:
    expert = info.attrs.get("expert") or {}
    digest = expert.get("sha256") or expert.get("weights_sha256")
    return (
        f"Actor-Mimic teacher data for ALE/{display_name(atari.game)}-v5 (frame skip {atari.frame_skip}, "
        f"{atari.screen_size}x{atari.screen_size} grayscale, stacks of {atari.stack_size}, up to "
        f"{atari.noop_max} no-ops, sticky actions {atari.repeat_action_probability}): {info.num_episodes} episodes, "
        f"{info.num_steps} steps. Step infos hold the expert's Q-values over the game's minimal action set "
        f"{info.action_set} (ALE ids) and its `{expert.get('hidden_layer')}` activations; expert sha256 {digest}. "
        "The final observation of each episode repeats the last stored one (infos['stored'] is False there)."
    )


def _record(store, info) -> dict:
    """What the dataset came from, in its Minari metadata (and the mark that it is ours)."""
    from actor_mimic import __version__

    sources = []
    for record, lane in lane_sources(info.attrs):
        behaviour = record.get("behaviour") or {}
        sources.append(
            {
                "collection": record.get("name"),
                "lane": lane,
                "seed": record.get("seed"),
                "round": behaviour.get("round"),
                "epsilon": behaviour.get("epsilon"),
                "policy": json.dumps(behaviour.get("policy")),
            }
        )
    expert = info.attrs.get("expert") or {}
    return {
        "store": Path(store).name,
        "game": info.game,
        "action_set": info.action_set,
        "expert_sha256": expert.get("sha256") or expert.get("weights_sha256"),
        "hidden_layer": expert.get("hidden_layer"),
        "lane_sources": sources,
        "final_observation": "repeats the last stored observation; infos['stored'] is False there",
        "actor_mimic_version": __version__,
    }
