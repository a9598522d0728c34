"""The files a Zarr teacher store is made of, named from its metadata alone.

A store's files are its group and array metadata (`zarr.json`), one file per chunk of every
array the schema names (and of its checksum array), and the dataset card (`README.md`). The
chunk keys follow from each array's metadata (shape, chunk grid, key encoding), so the list
needs no directory listing: that is how a store is fetched from a plain HTTP server, and how
a transfer knows the whole store when a listing would also show foreign or leftover files.

Each data chunk comes with the CRC-32C recorded for it (store/checksums.py), so a copy can be
checked, and a resumed copy can skip chunks already there intact, without trusting sizes.
The root `zarr.json` (the attribute document: what makes the folder a store) is listed last:
copied last, a store is readable only once everything else is in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actor_mimic.store.checksums import checksum_name, chunks_of
from actor_mimic.store.schema import expected_arrays

ROOT_METADATA = "zarr.json"
CARD = "README.md"


@dataclass(frozen=True)
class StoreFile:
    key: str  # '/'-separated name inside the store
    array: str | None = None  # the data array this is a chunk of (None: metadata, checksums, card)
    index: int = -1  # which chunk of `array`

    @property
    def where(self) -> str:
        return f"chunk {self.index} of {self.array}" if self.array else self.key


def store_files(backend, attrs: dict) -> list[StoreFile]:
    """Every file of the Zarr store open in `backend` (a checked document `attrs`):
    metadata, checksum chunks and the card first (small, needed to check the rest), then the
    data chunks, then the root metadata."""
    small: list[StoreFile] = []
    chunks: list[StoreFile] = []
    groups: dict[str, None] = {}
    for name in expected_arrays(attrs):
        pairs = ((checksum_name(name), False), (name, True)) if attrs["schema_version"] >= 2 else ((name, True),)
        for array, is_data in pairs:
            parts = array.split("/")
            for depth in range(1, len(parts)):  # every group above the array has its metadata
                groups.setdefault("/".join(parts[:depth]) + "/" + ROOT_METADATA, None)
            small.append(StoreFile(f"{array}/{ROOT_METADATA}"))
            count = chunks_of(int(backend.array(array).shape[0]), int(backend.array(array).chunks[0]))
            for index in range(count):
                key = backend.chunk_key(array, index)
                if is_data:
                    chunks.append(StoreFile(key, array, index))
                else:
                    small.append(StoreFile(key))
    card = [StoreFile(CARD)] if backend.files.size(CARD) is not None else []
    return [*map(StoreFile, groups), *small, *card, *chunks, StoreFile(ROOT_METADATA)]


def recorded_checksums(backend, files: list[StoreFile]) -> dict[str, np.ndarray]:
    """array -> the CRC-32C recorded for each of its chunks, for every data array in `files`."""
    arrays = dict.fromkeys(f.array for f in files if f.array)
    return {name: np.asarray(backend.array(checksum_name(name))[:], dtype=np.uint32) for name in arrays}


def store_size(backend, attrs: dict) -> int:
    """Bytes of the store's files, the card excepted (asked of the server, file by file)."""
    keys = [f.key for f in store_files(backend, attrs) if f.key != CARD]
    return sum(size or 0 for size in backend.files.sizes(keys))
