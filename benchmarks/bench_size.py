"""Bytes per transition on disk with the shipped trained expert, and the encodings weighed.

Naive storage keeps, per transition, the 4 stacked uint8 frames, float32 Q-values and float32
activations, uncompressed: 4*84*84 + 4*A + 4*512 bytes (30,288 B for Breakout's 4 actions).
Target: >= 100x smaller, frames and Q-values bit for bit, activations at their stored float16.

The data: a rollout of the shipped expert (experts/breakout.safetensors, epsilon 0.05, `amn
collect`'s defaults but --num-envs), collected once and cached. A store keeps one lane per
environment and encodes each lane on its own, so what matters is a lane's length: the default
(50,000 steps over 2 environments) gives 25,000-step lanes, as a 200,000-step collection with
the default 8 environments does. First the collected store itself, every file counted
(metadata, card, checksums): what `amn collect` writes by default. Then:

  1. candidates  each array of every lane encoded with each candidate (numcodecs, the codecs
                 zarr and HDF5 use; one thread), in the chunks a writer commits: bytes per
                 transition, the whole store's size and ratio to naive if that array used it
                 (the others as now), encode and decode MB/s (uncompressed bytes per second).
                 "before" is main's encoding before schema 3; "after" is what StoreWriter
                 writes now.
  2. lanes       the store as written now, for lanes cut shorter (a short collection spread
                 over many environments has short lanes, and windows hold fewer repeats)
  3. stores      the same steps written by StoreWriter, in both engines: bytes on disk

    python benchmarks/bench_size.py [--steps 50000] [--num-envs 2] [--cache DIR] [--source STORE]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np
from numcodecs import Blosc, Zstd

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.store import StoreWriter, WindowIndex, bytes_on_disk, open_store, read_field, window_for

EXPERT = Path(__file__).resolve().parents[1] / "experts" / "breakout.safetensors"
CHUNK = 1024  # steps per committed chunk (amn collect's default --chunk-len)
WINDOW = window_for(CHUNK, 512 * 2)  # steps per activation window of 512 float16 activations (the default)
SMALL = ("actions", "rewards", "terminated", "truncated", "lives")  # blosc zstd 3, as written


def source_store(cache: Path, steps: int, num_envs: int) -> Path:
    digest = hashlib.sha256(EXPERT.read_bytes()).hexdigest()[:12]
    path = cache / f"breakout-expert-{digest}-{steps}-{num_envs}envs-window{WINDOW}.zarr"
    try:
        with open_store(path) as (_, info):
            pass
        if info.num_steps == steps:
            print(f"reusing {path}")
            return path
    except Exception:  # noqa: BLE001 (absent, or an interrupted earlier run: collect again)
        pass
    print(f"collecting {steps} steps of {EXPERT.name} over {num_envs} environments into {path} ...", flush=True)
    collect(CollectConfig(expert=EXPERT, out=path, steps=steps, num_envs=num_envs, seed=0, overwrite=path.exists(),
                          progress=False))  # fmt: skip
    return path


def read_lanes(path: Path) -> tuple[list[dict], object]:
    with open_store(path) as (backend, info):
        lanes = [
            {
                name: read_field(backend, info.attrs, lane.prefix, name, 0, lane.num_steps)
                for name in info.attrs["fields"]
            }
            for lane in info.lanes
        ]
    return lanes, info


# --- encodings: one lane's array -> its encoded chunks ---------------------------------------


def blosc(level: int, shuffle: int = Blosc.SHUFFLE, one_block: bool = False):
    def encode(chunk: np.ndarray) -> bytes:
        return Blosc("zstd", level, shuffle, blocksize=chunk.nbytes if one_block else 0).encode(chunk)

    return encode


def zstd(level: int):
    return lambda chunk: Zstd(level).encode(chunk)


def chunked(encode, chunk_len: int, unit_major: bool = False):
    """Encode a lane's rows in chunks of chunk_len steps (each transposed when unit_major)."""

    def run(values: np.ndarray) -> list[bytes]:
        out = []
        for start in range(0, len(values), chunk_len):
            chunk = values[start : start + chunk_len]
            out.append(encode(np.ascontiguousarray(chunk.T) if unit_major else np.ascontiguousarray(chunk)))
        return out

    return run


def windowed(encode, chunk_len: int, window: int):
    """Schema 3: distinct rows once per window (store_dedup.WindowIndex), unit-major chunks,
    plus the references (int32, Blosc zstd 3 with shuffle)."""

    def run(values: np.ndarray) -> list[bytes]:
        index, out = WindowIndex(window), []
        for start in range(0, len(values), chunk_len):
            stored, refs = index.encode(start, values[start : start + chunk_len])
            out += [encode(np.ascontiguousarray(stored.T)), blosc(3)(refs)]
        return out

    return run


def decode_rate(chunks: list[bytes], raw_bytes: int) -> float:
    codec = Zstd() if chunks and chunks[0][:4] == b"\x28\xb5\x2f\xfd" else Blosc()
    started = time.process_time()
    for chunk in chunks:
        codec.decode(chunk)
    return raw_bytes / max(time.process_time() - started, 1e-9) / 1e6


CANDIDATES = {
    "hidden": [
        ("row-major", CHUNK, "blosc zstd 3, byte shuffle", chunked(blosc(3), CHUNK), "before"),
        ("row-major", CHUNK, "blosc zstd 3, bit shuffle", chunked(blosc(3, Blosc.BITSHUFFLE), CHUNK), ""),
        ("row-major", CHUNK, "zstd 19", chunked(zstd(19), CHUNK), ""),
        ("unit-major", CHUNK, "blosc zstd 3, byte shuffle", chunked(blosc(3), CHUNK, True), ""),
        (
            "unit-major",
            CHUNK,
            "blosc zstd 5, byte shuffle, one block",
            chunked(blosc(5, one_block=True), CHUNK, True),
            "",
        ),
        ("unit-major", CHUNK, "blosc zstd 9 (zstd 22), one block", chunked(blosc(9, one_block=True), CHUNK, True), ""),
        ("unit-major", CHUNK, "blosc zstd 5, bit shuffle", chunked(blosc(5, Blosc.BITSHUFFLE), CHUNK, True), ""),
        (
            "unit-major, held 4 chunks",
            4 * CHUNK,
            "blosc zstd 5, one block",
            chunked(blosc(5, one_block=True), 4 * CHUNK, True),
            "",
        ),
        (
            "unit-major, held 16 chunks",
            16 * CHUNK,
            "blosc zstd 5, one block",
            chunked(blosc(5, one_block=True), 16 * CHUNK, True),
            "",
        ),
        (
            "once per 4,096-step window",
            CHUNK,
            "blosc zstd 5, one block",
            windowed(blosc(5, one_block=True), CHUNK, 4096),
            "",
        ),
        (
            "once per 8,192-step window",
            CHUNK,
            "blosc zstd 5, one block",
            windowed(blosc(5, one_block=True), CHUNK, 8192),
            "",
        ),
        (
            "once per 16,384-step window",
            CHUNK,
            "blosc zstd 5, one block",
            windowed(blosc(5, one_block=True), CHUNK, 16384),
            "schema 3 before",
        ),
        ("once per 16,384-step window, row-major", CHUNK, "blosc zstd 3", windowed(blosc(3), CHUNK, 16384), ""),
        (
            "once per 32,768-step window",
            CHUNK,
            "blosc zstd 5, one block",
            windowed(blosc(5, one_block=True), CHUNK, 32768),
            "after (Zarr)",
        ),
    ],
    "frames": [
        ("row-major", CHUNK, "zstd 3", chunked(zstd(3), CHUNK), "before"),
        ("row-major", CHUNK, "zstd 9", chunked(zstd(9), CHUNK), "after"),
        ("row-major", CHUNK, "zstd 19", chunked(zstd(19), CHUNK), ""),
    ],
    "q_values": [
        ("row-major", CHUNK, "blosc zstd 3, byte shuffle", chunked(blosc(3), CHUNK), "before, after"),
        ("row-major", CHUNK, "blosc zstd 3, bit shuffle", chunked(blosc(3, Blosc.BITSHUFFLE), CHUNK), ""),
        ("unit-major", CHUNK, "blosc zstd 5, byte shuffle", chunked(blosc(5), CHUNK, True), ""),
    ],
}


def measure(lanes: list[dict], name: str, run) -> tuple[float, float, float]:
    """(B/step, encode MB/s, decode MB/s) of one candidate over every lane."""
    steps = sum(len(lane[name]) for lane in lanes)
    raw = sum(lane[name].nbytes for lane in lanes)
    started = time.process_time()
    chunks = [chunk for lane in lanes for chunk in run(lane[name])]
    encode = raw / max(time.process_time() - started, 1e-9) / 1e6
    return sum(map(len, chunks)) / steps, encode, decode_rate(chunks, raw)


def cut_lanes(lanes: list[dict], length: int) -> list[dict]:
    """The same steps as lanes of at most `length` steps (what more environments would give)."""
    return [
        {name: values[start : start + length] for name, values in lane.items()}
        for lane in lanes
        for start in range(0, len(lane["actions"]), length)
    ]


def write_store(lanes: list[dict], info, path: Path) -> Path:
    kept = ("game", "atari", "preprocessing", "action_set", "expert", "behaviour", "seed", "versions")
    writer = StoreWriter.create(
        path, metadata={k: v for k, v in info.attrs.items() if k in kept}, num_actions=int(info.attrs["num_actions"]),
        hidden_size=int(info.attrs["hidden_size"]), chunk_len=CHUNK, lanes=len(lanes),
    )  # fmt: skip
    for index, lane in enumerate(lanes):
        writer.append(index, lane)
    writer.close(complete=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--num-envs", type=int, default=2, help="environments, so lanes, of the rollout")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "actor-mimic-bench-size")
    parser.add_argument("--source", type=Path, help="a complete store to measure instead of collecting one")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    source = args.source or source_store(args.cache, args.steps, args.num_envs)
    lanes, info = read_lanes(source)
    steps = sum(len(lane["actions"]) for lane in lanes)
    num_actions = int(info.attrs["num_actions"])
    naive = 4 * 84 * 84 + 4 * num_actions + 4 * 512
    print(
        f"{steps} steps of {EXPERT.name} in {len(lanes)} lanes of {steps // len(lanes)}; naive {naive:,} B/transition"
    )
    collected = bytes_on_disk(source) / steps
    print(f"the store as collected (window {info.attrs.get('hidden_window')}, every file): "
          f"{collected:.1f} B/transition, {naive / collected:.1f}x smaller than naive")  # fmt: skip

    results = {name: [(*spec, *measure(lanes, name, spec[3])) for spec in specs] for name, specs in CANDIDATES.items()}
    chosen = {name: next(r[5] for r in rows if "after" in r[4]) for name, rows in results.items()}
    other = sum(measure(lanes, name, chunked(blosc(3), CHUNK))[0] for name in SMALL)
    print(
        "\n| array | layout | steps per chunk | codec | B/step | store B/step | vs naive "
        "| encode MB/s | decode MB/s | |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---|")
    for name, rows in results.items():
        for layout, chunk_len, codec, _, label, size, encode, decode in rows:
            store = size + sum(v for k, v in chosen.items() if k != name) + other
            print(f"| {name} | {layout} | {chunk_len} | {codec} | {size:.1f} | {store:.1f} | {naive / store:.1f}x "
                  f"| {encode:.0f} | {decode:.0f} | {label} |")  # fmt: skip

    print("\nthe chosen encoding, for shorter lanes (the same steps cut into lanes of N steps):")
    print("| steps per lane | activations B/step | store B/step | vs naive |")
    print("|---:|---:|---:|---:|")
    for length in sorted({1024, 4096, 8192, 16384, WINDOW, steps // len(lanes)}):
        hidden = measure(cut_lanes(lanes, length), "hidden", windowed(blosc(5, one_block=True), CHUNK, WINDOW))[0]
        store = hidden + chosen["frames"] + chosen["q_values"] + other
        print(f"| {length:,} | {hidden:.1f} | {store:.1f} | {naive / store:.1f}x |")

    print("\nwritten by StoreWriter (what amn collect writes), bytes on disk per transition:")
    folder = Path(tempfile.mkdtemp(prefix="bench-size-", dir=args.cache))
    for suffix in ("zarr", "h5"):
        path = write_store(lanes, info, folder / f"store.{suffix}")
        size = bytes_on_disk(path) / steps
        print(f"  {suffix:5s} {size:7.1f} B/transition, {naive / size:6.1f}x smaller than naive")
    print(
        f"  (the tables above count {other:.1f} B/step for actions, rewards, flags and lives; the files "
        "add checksums, metadata and the card)"
    )


if __name__ == "__main__":
    main()
