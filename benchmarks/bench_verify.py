"""How fast `amn dataset verify` checks a store, against merely reading the same bytes.

    python benchmarks/bench_verify.py [--steps 200000] [--cache DIR] [--backend zarr|hdf5]

Uses the store `bench_loading.py` builds (a real Breakout rollout repeated to --steps steps,
kept in --cache). Three passes over every stored chunk of every array, page cache warm:

  read      the stored (compressed) bytes of every chunk, nothing else: the floor
  checksums what verify does first: the same reads, plus a CRC-32C of each chunk compared
            with the one recorded at write time
  verify    the whole of `amn dataset verify`: checksums, then decoding the rows to check
            flags, actions, finite Q-values and activations, episode returns

and prints GB/s of stored bytes and each pass's time relative to `read`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_loading import build_store

from actor_mimic.datasets.inspection import check_chunks, verify_store
from actor_mimic.store import chunks_of, expected_arrays, open_attrs


def stored_arrays(attrs: dict) -> dict[str, int]:
    """name -> committed rows, for every checked array."""
    return {name: rows for name, (_, _, _, rows) in expected_arrays(attrs).items()}


def read_pass(path: Path) -> int:
    """Read every committed chunk's stored bytes; returns how many bytes."""
    backend, attrs = open_attrs(path)
    total = 0
    for name, rows in stored_arrays(attrs).items():
        for index in range(chunks_of(rows, int(backend.array(name).chunks[0]))):
            total += len(backend.read_chunk(name, index))
    backend.close()
    return total


def checksum_pass(path: Path) -> None:
    backend, attrs = open_attrs(path)
    problems = [
        p for name, rows in stored_arrays(attrs).items() for p in check_chunks(backend, path, attrs, name, rows)
    ]
    backend.close()
    assert not problems, problems


def timed(function, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        function()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--source-steps", type=int, default=20_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "actor-mimic-bench")
    parser.add_argument("--backend", choices=("zarr", "hdf5"), default="zarr")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    path = build_store(args.cache, args.steps, args.source_steps, args.backend, "zstd", "float16")
    stored = read_pass(path)  # also warms the page cache
    print(f"store: {path}, {stored / 2**20:.0f} MiB of stored chunks")
    results = {
        "read": timed(lambda: read_pass(path), args.rounds),
        "checksums": timed(lambda: checksum_pass(path), args.rounds),
        "verify": timed(lambda: verify_store(path) and sys.exit("verify found problems"), args.rounds),
    }
    print(f"median of {args.rounds} rounds, page cache warm:")
    for name, seconds in results.items():
        print(
            f"  {name:<10} {seconds:7.2f} s  {stored / seconds / 1e9:6.2f} GB/s  {seconds / results['read']:5.1f}x read"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
