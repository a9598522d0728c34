"""What is in a teacher store (`summarize`) and whether it is sound (`verify_store`).

Both read the store chunk by chunk, so memory stays small for stores of any size. Both
accept interrupted stores: `summarize` says so, `verify_store` reports it as a problem
unless told to allow it.

`verify_store` reads every stored byte: it recomputes the checksum of every committed chunk
of every array and compares it with the one recorded at write time (store/checksums.py),
naming each chunk that is missing, unreadable (a truncated file) or changed; then it decodes
the rows and checks what the schema promises of them (flags, finite values, actions, returns).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actor_mimic.errors import UserError
from actor_mimic.store import (
    ChunkGuard,
    array_problems,
    bad_reference,
    bytes_on_disk,
    chunks_of,
    expected_arrays,
    hidden_window,
    is_sealed,
    lane_sources,
    meaning_problems,
    non_finite_rows,
    open_attrs,
    open_store,
    read_checksums,
    seal_problem,
    store_digest,
    store_size,
    stored_path,
    teacher_outputs,
    teacher_source,
)

SCAN_ROWS = 8192  # rows per read while scanning; whole chunks for the usual chunk lengths
MAX_CHUNK_LINES = 20  # damaged chunks named per array; the rest are counted


def expert_identity(attrs: dict) -> tuple[str | None, bool | None]:
    """(sha256 prefix of the labelling expert, whether it was an untrained random init)."""
    expert = attrs.get("expert") or {}
    digest = expert.get("sha256") or expert.get("weights_sha256")
    provenance = (expert.get("metadata") or {}).get("provenance") or {}
    untrained = None
    if provenance:
        untrained = provenance.get("source") == "random-init" or provenance.get("trained") is False
    return (digest[:12] if digest else None), untrained


def describe_behaviour(attrs: dict) -> tuple[str | None, object]:
    """(who acted, round label); for a merged store whose collections acted differently,
    ("mixed: ...", the rounds) (each lane's own is in `lane_sources`)."""
    if "behaviour" not in attrs and attrs.get("sources"):
        described = [describe_behaviour(source) for source in attrs["sources"]]
        policies = list(dict.fromkeys(str(policy) for policy, _ in described))
        return f"mixed: {len(attrs['sources'])} collections ({'; '.join(policies)})", [r for _, r in described]
    behaviour = attrs.get("behaviour") or {}
    policy = behaviour.get("policy")
    if isinstance(policy, dict):
        digest = policy.get("sha256") or policy.get("weights_sha256") or "?"
        policy = f"{policy.get('kind', 'policy')} {digest[:12]}"
    if policy is not None and behaviour.get("epsilon") is not None:
        policy = f"{policy} (epsilon {behaviour['epsilon']})"
    return policy, behaviour.get("round")


def summarize(path: str | Path) -> dict:
    """A JSON-ready description of one store (see `amn dataset info`)."""
    with open_store(path, allow_incomplete=True) as (backend, info):
        raw_bytes = 0
        for name in expected_arrays(info.attrs):
            if name.endswith("hidden_ref"):
                continue  # how the activations are stored, not what the store holds
            array = backend.array(name)
            raw_bytes += int(np.prod(array.shape)) * np.dtype(array.dtype).itemsize
        remote = getattr(backend, "files", None) is not None and backend.files.remote
        disk = store_size(backend, info.attrs) if remote else bytes_on_disk(info.path)
        digest = store_digest(backend, info.attrs) if info.attrs["schema_version"] >= 2 else None
    returns = info.episode_returns
    sha, untrained = expert_identity(info.attrs)
    behaviour, round_label = describe_behaviour(info.attrs)
    return {
        "path": str(path),
        "game": info.game,
        "digest": digest,
        "sealed": is_sealed(info.attrs),
        "steps": info.num_steps,
        "committed_steps": int(info.attrs["num_steps"]),
        "episodes": info.num_episodes,
        "return_mean": float(returns.mean()) if len(returns) else None,
        "return_min": float(returns.min()) if len(returns) else None,
        "return_max": float(returns.max()) if len(returns) else None,
        "bytes_on_disk": disk,
        "raw_bytes": raw_bytes,
        "compression_ratio": raw_bytes / disk if disk else None,
        "backend": info.attrs.get("backend", info.backend),
        "rows_at": str(info.path),  # X.h5.partial while an HDF5 store's collection runs
        "compression": info.attrs.get("compression"),
        "chunk_len": int(info.attrs["chunk_len"]),
        "q_dtype": info.attrs.get("q_dtype"),
        "hidden_dtype": info.attrs.get("hidden_dtype"),
        "hidden_size": int(info.attrs["hidden_size"]),
        "action_set": info.action_set,
        "complete": info.complete,
        "sticky_actions": float((info.attrs.get("atari") or {}).get("repeat_action_probability", 0.0)),
        "expert_sha256": sha,
        "expert_untrained": untrained,
        "teacher_outputs": teacher_outputs(info.attrs),  # what `q_values` holds: "q_values" or "logits"
        "teacher_source": teacher_source(info.attrs) or None,  # "stable-baselines3 ppo", ...
        "behaviour": behaviour,
        "round": round_label,
        "shard": info.attrs.get("shard"),
        "lane_sources": [
            {
                "source": record.get("name"),
                "lane": lane,
                "behaviour": describe_behaviour(record)[0],
                "round": record.get("behaviour", {}).get("round"),
                "seed": record.get("seed"),
                "shard": record.get("shard"),
            }
            for record, lane in lane_sources(info.attrs)
        ],
    }


def summarize_games(stores: list[dict]) -> list[dict]:
    """Per game, over all its stores (`summarize` records): steps, episodes, returns, bytes."""
    games = []
    for game in dict.fromkeys(store["game"] for store in stores):
        mine = [store for store in stores if store["game"] == game and store["episodes"]]
        episodes = sum(store["episodes"] for store in mine)
        games.append({
            "game": game,
            "stores": sum(store["game"] == game for store in stores),
            "steps": sum(store["steps"] for store in stores if store["game"] == game),
            "episodes": episodes,
            "return_mean": sum(s["return_mean"] * s["episodes"] for s in mine) / episodes if episodes else None,
            "return_min": min((s["return_min"] for s in mine), default=None),
            "return_max": max((s["return_max"] for s in mine), default=None),
            "bytes_on_disk": sum(store["bytes_on_disk"] for store in stores if store["game"] == game),
            "complete": all(store["complete"] for store in stores if store["game"] == game),
        })  # fmt: skip
    return games


def verify_store(path: str | Path, allow_incomplete: bool = False) -> list[str]:
    """One-line descriptions of everything wrong with a store; empty when it is sound.

    In order: the attribute document, the arrays' types and shapes, every chunk's bytes,
    then (only if all of that is sound) the episodes and the rows of every lane."""
    try:
        backend, attrs = open_attrs(path, check_arrays=False, check_meaning=False)
    except UserError as error:
        return [_without_path(error, path)]
    problems = [f"document: {problem}" for problem in meaning_problems(attrs)]
    seal = seal_problem(attrs)
    problems += [f"document: {seal}"] if seal else []
    try:
        problems += _verify_bytes(backend, attrs, backend.path, allow_incomplete)
    finally:
        backend.close()
    if any(p.startswith(("document", "schema", "chunks")) for p in problems):
        return problems  # the rows cannot be decoded as the schema says, or mean something else
    try:
        opened = open_store(path, allow_incomplete=True)
    except UserError as error:
        return problems + [_without_path(error, path)]
    with opened as (backend, info):
        if attrs["schema_version"] < 2:
            problems += _check_episode_table(info.lanes[0], attrs)
        if not any(p.startswith("episodes") for p in problems):
            for lane, record in enumerate(info.lanes):
                where = f"lane {lane} step" if attrs["schema_version"] >= 2 else "step"
                problems += _scan_rows(backend, info, record, where)
        return problems


def _without_path(error: UserError, path) -> str:
    """The error's message without its leading store path (verify prints that first)."""
    message = str(error)
    for prefix in (f"{path}: ", f"{stored_path(path)}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _verify_bytes(backend, attrs: dict, path: Path, allow_incomplete: bool) -> list[str]:
    problems = []
    committed = int(attrs["num_steps"])
    if not attrs.get("complete") and not allow_incomplete:
        problems.append(
            f"incomplete: its collection stopped after {committed} steps; finish it with "
            "`amn collect ... --resume` (same arguments)"
        )
    problems += [f"schema: {problem}" for problem in array_problems(backend, attrs)]
    if problems and problems[-1].startswith("schema"):
        return problems  # the rows cannot be read as the schema says
    for name, (_, _, _, rows) in expected_arrays(attrs).items():
        problems += check_chunks(backend, path, attrs, name, rows)
    return problems


def check_chunks(backend, path: Path, attrs: dict, name: str, rows: int) -> list[str]:
    """One line per damaged chunk among those holding the first `rows` rows of `name`."""
    chunk_len = int(backend.array(name).chunks[0])
    count = chunks_of(rows, chunk_len)
    # Schema 2 on writes every chunk (each has a checksum), so a document that claims rows the
    # store lacks fails here, in one directory listing, before the walk.
    stored = backend.stored_chunks(name, count) if attrs["schema_version"] >= 2 else None
    if stored is not None and stored < count:
        claim = f"the commit needs {count} chunks but {stored} exist"
        return [f"chunks: {name}: {claim}; the document claims rows the store lacks: re-download or recollect it"]
    try:
        checksums = read_checksums(backend, name, count, int(attrs["schema_version"]))
    except UserError as error:
        return [f"chunks: {error}"]
    guard = ChunkGuard(path, name, chunk_len, checksums)
    problems = []
    for index in range(count):
        try:
            problem = guard.problem(index, backend.read_chunk(name, index))
        except (OSError, RuntimeError, ValueError) as error:
            problem = f"{guard.where(index)} cannot be read ({error}): the file is truncated or damaged"
        if problem is not None:
            problems.append(f"chunks: {problem}")
    if len(problems) > MAX_CHUNK_LINES:
        more = len(problems) - MAX_CHUNK_LINES
        problems = problems[:MAX_CHUNK_LINES] + [f"chunks: ... and {more} more damaged chunk(s) of {name}"]
    return problems


def _check_episode_table(lane, attrs: dict) -> list[str]:
    """A schema 1 store's stored episode table: contiguous, non-empty, within the commit."""
    starts, lengths, committed = lane.episode_starts, lane.episode_lengths, int(attrs["num_steps"])
    if len(starts) == 0:
        return (
            [] if committed == 0 or not attrs["complete"] else [f"episodes: none committed but {committed} steps are"]
        )
    problems = []
    if starts[0] != 0:
        problems.append(f"episodes: the first episode starts at step {starts[0]}, not 0")
    gaps = np.flatnonzero(starts[1:] != starts[:-1] + lengths[:-1])
    if len(gaps):
        problems.append(
            f"episodes: episode {gaps[0] + 1} does not start where episode {gaps[0]} ends ({len(gaps)} gaps)"
        )
    if (lengths < 1).any():
        problems.append(f"episodes: {int((lengths < 1).sum())} episode(s) have no steps")
    covered = int(lengths.sum())
    if attrs["complete"] and covered != committed:
        problems.append(f"episodes: the episode lengths sum to {covered} steps but {committed} are committed")
    elif covered > committed:
        problems.append(f"episodes: the episode table covers {covered} steps, past the {committed} committed")
    return problems


def _row_reader(backend, path: Path, name: str):
    """read(low, high) -> rows of `name`, through the direct chunk reader when the layout
    allows (zarr's own slicing is several times slower). The chunks' bytes were compared
    with their checksums just before; a chunk that fails to decode is still named."""
    chunk_len = int(backend.array(name).chunks[0])
    return backend.row_reader(name, ChunkGuard(path, name, chunk_len, None)).read


def _scan_rows(backend, info, lane, where: str) -> list[str]:
    """Of one lane's committed rows: finite Q-values and activations, actions in the action
    set; of its closed episodes: flags only at their ends, every end flagged, returns."""
    starts, lengths = lane.episode_starts, lane.episode_lengths
    ends = starts + lengths - 1
    returns = np.zeros(len(starts), dtype=np.float64)
    bad: dict[str, list] = {"flag": [], "unflagged": [], "q_values": [], "hidden": [], "actions": [], "hidden_ref": []}
    num_actions = len(info.action_set)
    window = hidden_window(info.attrs)
    names = ("terminated", "truncated", "rewards", "actions", "q_values", "hidden") + (
        ("hidden_ref",) if window else ()
    )
    # The stored activation rows are scanned as stored: every step's activations are one of them.
    readers = {name: _row_reader(backend, info.path, lane.prefix + name) for name in names}
    for low in range(0, lane.committed, SCAN_ROWS):
        high = min(low + SCAN_ROWS, lane.committed)
        rows = {name: read(low, high) for name, read in readers.items()}
        served = max(0, min(high, lane.num_steps) - low)  # rows of closed episodes
        is_end = np.zeros(served, dtype=bool)
        is_end[ends[(ends >= low) & (ends < low + served)] - low] = True
        done = (rows["terminated"] | rows["truncated"])[:served]
        bad["flag"] += (np.flatnonzero(done & ~is_end) + low).tolist()[:1]
        bad["unflagged"] += (np.flatnonzero(is_end & ~done) + low).tolist()[:1]
        for name in ("q_values", "hidden"):
            bad[name] += (non_finite_rows(rows[name]) + low).tolist()[:1]
        if window:
            step = bad_reference(rows["hidden_ref"], low, window)
            bad["hidden_ref"] += [] if step is None else [step]
        wrong = (rows["actions"] < 0) | (rows["actions"] >= num_actions)
        bad["actions"] += (np.flatnonzero(wrong) + low).tolist()[:1]
        episode = np.searchsorted(starts, np.arange(low, low + served), side="right") - 1
        returns += np.bincount(episode, weights=rows["rewards"][:served].astype(np.float64), minlength=len(starts))
    messages = {
        "flag": "terminated/truncated set inside an episode, first at {}",
        "unflagged": "an episode ends without terminated or truncated, first at {}",
        "q_values": "q_values hold NaN or infinite values, first at {}",
        "hidden": "hidden holds NaN or infinite values, first at {}",
        "actions": f"actions outside the action set (0..{num_actions - 1}), first at {{}}",
        "hidden_ref": f"hidden_ref points outside its window of {window} steps, first at {{}}",
    }
    problems = [f"rows: {messages[key].format(f'{where} {steps[0]}')}" for key, steps in bad.items() if steps]
    mismatch = np.flatnonzero(~np.isclose(returns, lane.episode_returns, rtol=1e-9, atol=1e-6))
    if len(mismatch):
        problems.append(
            f"episodes: the return of episode {mismatch[0]} is {lane.episode_returns[mismatch[0]]} "
            f"but its rewards sum to {returns[mismatch[0]]} ({len(mismatch)} episode(s) differ)"
        )
    return problems
