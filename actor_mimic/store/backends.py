"""Zarr and HDF5 behind one small interface, so the store schema is written once.

A backend holds named, chunked arrays that grow along their first axis, plus one JSON
document of attributes. Both engines read and write through numpy slicing. Compression is
lossless; the same names mean the same codecs in both engines:

    zstd     frames: Zstandard level 9; other arrays: Blosc(Zstandard) with byte shuffle,
             level 3, the activations level 5 (default)
    lz4      Blosc(LZ4) with byte shuffle: faster to decode, larger
    gzip     deflate, readable by any HDF5 or Zarr reader without plugins
    none     raw

Arrays created `unit_major` (the expert's activations) are stored unit by unit in Zarr: each
chunk holds every unit's values over the chunk's steps contiguously (the core v3 `transpose`
codec, readable by any Zarr v3 reader), then Blosc as one block. A ReLU unit's long runs of
zeros and its repeated values then lie side by side, where row by row they are interleaved
with 511 other units: 368 instead of 501 B per step at 1,024-step chunks (docs/storage.md).
HDF5 has no transposing filter: there they are stored row by row.

HDF5 files written with zstd or lz4 need `import hdf5plugin` in the reader (done here).

A Zarr store can also be read from a URL (store/location.py): zarr opens it through fsspec and
reads only the metadata and chunks asked for; its chunk keys come from the arrays' metadata, so
no directory listing is needed (plain HTTP servers have none). HDF5 is read from local files
only: `amn dataset pull` fetches one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from actor_mimic.errors import UserError
from actor_mimic.store.identity import sealed
from actor_mimic.store.location import LocalFiles, RemoteFiles, is_remote

if TYPE_CHECKING:
    import zarr
    from zarr.core.array_spec import ArrayConfigParams
    from zarr.core.metadata import ArrayMetadata

ATTRS_KEY = "actor_mimic"
COMPRESSIONS = ("zstd", "lz4", "gzip", "none")
BACKENDS = ("zarr", "hdf5")
HDF5_SUFFIXES = (".h5", ".hdf5")  # a store named so is (or will be) an HDF5 file; any other, Zarr
MAX_LEVEL = 9
# Default levels under "zstd" (a level in the spec applies to every array).
BYTES_ZSTD_LEVEL = 9  # uint8 frames: 25% smaller than level 3, decoded as fast
VALUES_BLOSC_LEVEL = 3  # Q-values, flags, counters
UNIT_MAJOR_BLOSC_LEVEL = 5  # activations: 2% smaller than 3; level 7 saves 0.3% more at 1/5 the speed
# This module's modes ("a" appends to an existing store) in each engine's words.
ZARR_MODES: dict[str, Literal["r", "r+", "w"]] = {"r": "r", "a": "r+", "w": "w"}


def parse_compression(spec: str) -> tuple[str, int | None]:
    """`"zstd"` or `"zstd:5"` -> ("zstd", 5). Raises UserError for unknown names and levels
    outside 0..9 (checked here, before any store is touched)."""
    if not isinstance(spec, str):
        raise UserError(f"compression must be a name like zstd or zstd:5, got {spec!r}")
    name, _slash, level = spec.partition(":")
    if name not in COMPRESSIONS:
        raise UserError(f"unknown compression {spec!r}: choose one of {', '.join(COMPRESSIONS)}")
    if not _slash:
        return name, None
    if name == "none":
        raise UserError(f"compression 'none' takes no level, got {spec!r}")
    # 0..9 for every codec: the float arrays go through Blosc, whose levels stop at 9.
    if not (level.isascii() and level.isdigit()) or int(level) > MAX_LEVEL:
        raise UserError(f"compression level in {spec!r} must be a whole number from 0 to {MAX_LEVEL}")
    return name, int(level)


def backend_by_name(path: str | Path) -> str:
    """The engine a store's name asks for: "hdf5" for X.h5 or X.hdf5 (a local path or a URL),
    else "zarr". Used before a store exists, where its content cannot tell."""
    return "hdf5" if str(path).endswith(HDF5_SUFFIXES) else "zarr"


def detect_backend(path: str | Path) -> str:
    """Which engine wrote the store at `path` (by content, falling back to the suffix)."""
    if is_remote(path):
        if backend_by_name(path) == "hdf5":
            raise UserError(
                f"{path}: HDF5 stores are read from local files only; fetch it first with "
                "`amn dataset pull URL DIR`, or share the store as Zarr (`amn dataset convert`)"
            )
        return "zarr"
    path = Path(path)
    if path.is_dir():
        return "zarr"
    if path.is_file():
        with open(path, "rb") as handle:
            if handle.read(8) == b"\x89HDF\r\n\x1a\n":
                return "hdf5"
        raise UserError(f"{path} is neither a Zarr directory nor an HDF5 file")
    return backend_by_name(path)


class Backend(Protocol):
    """What the store's code asks of a storage engine (ZarrBackend, HDF5Backend): named
    chunked arrays that grow along their first axis, their chunks' stored bytes, and one JSON
    attribute document (sealed on every write: identity.py)."""

    name: str  # "zarr" or "hdf5"

    @property
    def path(self) -> Path | str: ...  # a local path, or (Zarr, read-only) a URL

    def create_array(self, name, tail_shape, dtype, chunk_len, compression, unit_major: bool = False) -> None: ...
    def array(self, name: str) -> Any: ...  # numpy-sliceable, with .shape, .dtype and .chunks
    def has_array(self, name) -> bool: ...
    def array_problem(self, name: str) -> str | None: ...
    def read_chunk(self, name: str, index: int) -> bytes | None: ...
    def stored_chunks(self, name: str, count: int) -> int | None: ...
    def row_reader(self, name: str, guard) -> Any: ...
    def check_self_contained(self) -> None: ...
    def resize(self, name: str, length: int) -> None: ...
    def read_attrs(self) -> object: ...
    def write_attrs(self, attrs: dict) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def open_backend(path: str | Path, mode: str, backend: str | None = None) -> Backend:
    """mode "r" (read), "a" (append to an existing store), "w" (create, replacing)."""
    backend = backend or detect_backend(path)
    if backend == "zarr":
        return ZarrBackend(path if is_remote(path) else Path(path), mode)
    if backend == "hdf5":
        return HDF5Backend(Path(path), mode)
    raise UserError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")


class ZarrBackend:
    name = "zarr"

    def __init__(self, path: Path | str, mode: str):
        """`path`: a local folder, or (mode "r" only) the URL of a remote store."""
        import zarr

        self.path = path
        self._chunk_keys: dict[str, tuple[ArrayMetadata, tuple[int, ...]]] = {}
        # A writer's arrays, opened once: opening reads and parses the array's metadata file,
        # a third of the CPU of writing a chunk when done per array per chunk. (Only the
        # backend that writes knows its arrays' shapes stay current: zarr resizes in place.)
        self._arrays: dict[str, zarr.Array] | None = None if mode == "r" else {}
        # the store's raw bytes
        self.files = RemoteFiles(str(path)) if is_remote(path) else LocalFiles(Path(path))
        if self.files.remote and mode != "r":
            raise UserError(f"{path}: remote stores are read-only here; pull it to change it")
        try:
            self.group = zarr.open_group(str(path), mode=ZARR_MODES[mode])
        except FileNotFoundError as error:
            if self.files.remote:
                raise UserError(f"teacher store {path} does not exist (no zarr.json at that URL)") from None
            raise UserError(f"{path}: cannot open as a Zarr store ({error})") from None
        except (ValueError, KeyError) as error:
            raise UserError(f"{path}: cannot open as a Zarr store ({error})") from None
        except OSError as error:  # a remote store: the server refused or could not be reached
            raise UserError(f"{path}: cannot read the store ({error})") from None

    def create_array(self, name, tail_shape, dtype, chunk_len, compression, unit_major: bool = False) -> None:
        from zarr.codecs import TransposeCodec

        unit_major = unit_major and len(tail_shape) == 1 and compression[0] != "none"
        chunk_bytes = chunk_len * int(np.prod(tail_shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        self.group.create_array(
            name,
            shape=(0, *tail_shape),
            chunks=(chunk_len, *tail_shape),
            dtype=np.dtype(dtype),
            filters=[TransposeCodec(order=(1, 0))] if unit_major else None,
            compressors=_zarr_codecs(np.dtype(dtype), compression, unit_major, chunk_bytes),
            fill_value=0,
        )

    def array(self, name: str) -> zarr.Array:
        # Every chunk gets a file, even one that holds only zeros (a runtime setting, not
        # stored): a missing chunk file is then always damage, refused by every reader.
        # zarr marks "order" NotRequired via typing.NotRequired, which mypy's Python 3.10 target lacks.
        config: ArrayConfigParams = {"write_empty_chunks": True}  # type: ignore[typeddict-item]
        return self._stored_array(name).with_config(config)

    def _stored_array(self, name: str) -> zarr.Array:
        import zarr

        if self._arrays is not None and name in self._arrays:
            return self._arrays[name]
        node = self.group[name]
        if not isinstance(node, zarr.Array):
            raise UserError(f"{self.path}: {name} is a group, not an array")
        if self._arrays is not None:
            self._arrays[name] = node
        return node

    def chunk_key(self, name: str, index: int) -> str:
        """The key (file name inside the store) of chunk `index` (along the first axis) of `name`."""
        if name not in self._chunk_keys:  # opening an array reads its metadata: once per name
            array = self._stored_array(name)
            self._chunk_keys[name] = (array.metadata, (0,) * (array.ndim - 1))
        metadata, tail = self._chunk_keys[name]
        return f"{name}/{metadata.encode_chunk_key((index, *tail))}"

    def chunk_file(self, name: str, index: int) -> Path:
        """The local file of chunk `index` (along the first axis) of array `name`."""
        if not isinstance(self.files, LocalFiles):
            raise UserError(f"{self.path}: a remote store's chunks have no local files")
        return self.files.path(self.chunk_key(name, index))

    def read_chunk(self, name: str, index: int) -> bytes | None:
        """The stored (encoded) bytes of chunk `index` of `name`; None if it has no file."""
        return self.files.read(self.chunk_key(name, index))

    def stored_chunks(self, name: str, count: int) -> int | None:
        """How many of chunks 0..count-1 of `name` have a file, from one directory listing
        (None for a remote store: no listing there). What lets a document that claims more
        rows than exist fail in seconds instead of after reading every missing chunk."""
        if not isinstance(self.files, LocalFiles):
            return None
        key = self.chunk_key(name, 0)
        if not key.startswith(f"{name}/c/0"):  # not zarr's default `c/0/0/0` keys: no cheap count
            return None
        try:  # the entries of name/c are the first-axis chunk indices (files, or folders of the rest)
            entries = [entry.name for entry in os.scandir(self.files.path(f"{name}/c"))]
        except OSError:
            return 0
        return sum(entry.isdigit() and int(entry) < count for entry in entries)

    def row_reader(self, name: str, guard):
        """A reader of rows of array `name`: `.read(start, stop)` -> ndarray and `.take(sorted
        rows, dtype)`, every chunk's bytes checked by `guard` (a ChunkGuard) before they are decoded. For the layout
        StoreWriter writes, chunk files decoded straight into place (zarr_chunks.py: several
        times faster than zarr's own slicing); for any other, zarr's slicing."""
        from actor_mimic.store.checksums import CheckedRows
        from actor_mimic.store.zarr_chunks import ChunkFiles

        fast = ChunkFiles.for_array(self.array(name), guard, self.files)
        return fast if fast is not None else CheckedRows(self, name, guard)

    def has_array(self, name) -> bool:
        return name in self.group

    def array_problem(self, name: str) -> str | None:
        """Why `name` is not an array of this store ("is missing"), or None."""
        return None if name in self.group else "is missing"

    def check_self_contained(self) -> None:
        """Refuse a store with symbolic links inside: its bytes would come from elsewhere.
        (A remote store's files are whatever its server serves: nothing to check here.)"""
        if self.files.remote:
            return
        for root, dirs, files in os.walk(self.path):
            for entry in (*dirs, *files):
                if os.path.islink(os.path.join(root, entry)):
                    inner = Path(root, entry).relative_to(self.path)
                    raise UserError(
                        f"{self.path}: {inner} is a symbolic link; a teacher store must hold its own "
                        "files (copy the store with its data, e.g. `cp -rL`, or recollect it)"
                    )

    def resize(self, name: str, length: int) -> None:
        array = self._stored_array(name)
        array.resize((length, *array.shape[1:]))

    def read_attrs(self) -> object:
        """The attribute document as stored (None if absent): any JSON value until
        `store_schema.checked_attrs` has checked it."""
        return self.group.attrs.asdict().get(ATTRS_KEY)

    def write_attrs(self, attrs: dict) -> None:
        self.group.attrs[ATTRS_KEY] = sealed(attrs)

    def flush(self) -> None:
        pass  # every Zarr write is a whole chunk file, written through to storage

    def close(self) -> None:
        pass


class HDF5Backend:
    name = "hdf5"

    def __init__(self, path: Path, mode: str):
        import h5py
        import hdf5plugin  # noqa: F401  (registers the zstd/blosc filters for reading)

        self.path = path
        try:
            # A 64 MiB chunk cache per file instead of h5py's 1 MiB, so a chunk read once
            # is not decompressed again for its neighbours.
            self.file = h5py.File(path, {"r": "r", "a": "r+", "w": "w"}[mode], rdcc_nbytes=64 << 20)
        except OSError as error:
            raise UserError(f"{path}: cannot open as an HDF5 file ({error})") from None

    def create_array(self, name, tail_shape, dtype, chunk_len, compression, unit_major: bool = False) -> None:
        # (no transposing filter in HDF5: `unit_major` arrays are stored row by row here)
        self.file.create_dataset(
            name,
            shape=(0, *tail_shape),
            maxshape=(None, *tail_shape),
            chunks=(chunk_len, *tail_shape),
            dtype=np.dtype(dtype),
            **_hdf5_filter(np.dtype(dtype), compression),
        )

    def array(self, name):
        return self.file[name]

    def read_chunk(self, name: str, index: int) -> bytes | None:
        """The stored (filtered) bytes of chunk `index` of `name`; None if never written."""
        dataset = self.file[name]
        offset = (index * dataset.chunks[0],) + (0,) * (dataset.ndim - 1)
        if dataset.id.get_chunk_info_by_coord(offset).byte_offset is None:
            return None
        return dataset.id.read_direct_chunk(offset)[1]

    def stored_chunks(self, name: str, count: int) -> int | None:
        """How many of chunks 0..count-1 of `name` are allocated in the file (HDF5's chunk index)."""
        dataset = self.file[name]
        if dataset.chunks is None:
            return None
        rows = int(dataset.chunks[0])
        return sum(
            dataset.id.get_chunk_info(i).chunk_offset[0] // rows < count for i in range(dataset.id.get_num_chunks())
        )

    def row_reader(self, name: str, guard):
        """A reader of rows of array `name`: `.read(start, stop)` and `.take(sorted rows,
        dtype)`, every chunk's bytes checked by `guard` before h5py decodes them."""
        from actor_mimic.store.checksums import CheckedRows

        return CheckedRows(self, name, guard)

    def has_array(self, name) -> bool:
        return name in self.file

    def array_problem(self, name: str) -> str | None:
        """Why `name` is not an array stored in this file, or None."""
        import h5py

        group = self.file
        for part in name.split("/"):
            link = group.get(part, getlink=True)
            if link is None:
                return "is missing"
            if not isinstance(link, h5py.HardLink):
                return f"is a {type(link).__name__} to another place; a store must hold its own data"
            group = group[part]
        if not isinstance(group, h5py.Dataset):
            return "is not a dataset"
        if group.is_virtual or group.external:
            return "keeps its rows in other files; a store must hold its own data"
        return None

    def check_self_contained(self) -> None:
        """Refuse a file with external links or datasets whose rows live in other files."""
        import h5py

        def visit(group, prefix: str) -> None:
            for key in group:
                link = group.get(key, getlink=True)
                name = f"{prefix}{key}"
                if isinstance(link, h5py.ExternalLink):
                    raise UserError(
                        f"{self.path}: {name} is an external link to {link.filename}; a teacher "
                        "store must hold its own data (recollect it, or copy the data in)"
                    )
                if isinstance(link, h5py.SoftLink):
                    continue  # stays inside this file; array_problem refuses it as an array
                item = group[key]
                if isinstance(item, h5py.Group):
                    visit(item, f"{name}/")
                elif isinstance(item, h5py.Dataset) and (item.is_virtual or item.external):
                    raise UserError(
                        f"{self.path}: dataset {name} keeps its rows in other files; a teacher "
                        "store must hold its own data"
                    )

        visit(self.file, "")

    def resize(self, name, length) -> None:
        self.file[name].resize(length, axis=0)

    def read_attrs(self) -> object:
        """The attribute document as stored (None if absent), unchecked like Zarr's."""
        text = self.file.attrs.get(ATTRS_KEY)
        return None if text is None else json.loads(text)

    def write_attrs(self, attrs: dict) -> None:
        self.file.attrs[ATTRS_KEY] = json.dumps(sealed(attrs))

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _default_level(name: str, dtype: np.dtype, unit_major: bool) -> int:
    if name in ("gzip", "lz4"):
        return 5
    if dtype.itemsize == 1:
        return BYTES_ZSTD_LEVEL
    return UNIT_MAJOR_BLOSC_LEVEL if unit_major else VALUES_BLOSC_LEVEL


def _zarr_codecs(dtype: np.dtype, compression: tuple[str, int | None], unit_major: bool = False, chunk_bytes: int = 0):
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    name, level = compression
    if name == "none":
        return None
    level = _default_level(name, dtype, unit_major) if level is None else level
    if name == "gzip":
        return [GzipCodec(level=level)]
    if name == "zstd" and dtype.itemsize == 1:
        return [ZstdCodec(level=level)]
    cname: Literal["zstd", "lz4"] = "zstd" if name == "zstd" else "lz4"
    return [
        BloscCodec(
            cname=cname,
            clevel=level,
            shuffle="shuffle" if dtype.itemsize > 1 else "noshuffle",
            typesize=dtype.itemsize,
            # One Blosc block per chunk for the activations: zstd then sees a unit's whole run.
            blocksize=chunk_bytes if unit_major else 0,
        )
    ]


def _hdf5_filter(dtype: np.dtype, compression: tuple[str, int | None]) -> dict:
    import hdf5plugin

    name, level = compression
    if name == "none":
        return {}
    level = _default_level(name, dtype, False) if level is None else level
    if name == "gzip":
        return {"compression": "gzip", "compression_opts": level}
    if name == "zstd" and dtype.itemsize == 1:
        return dict(hdf5plugin.Zstd(clevel=level))
    shuffle = hdf5plugin.Blosc.SHUFFLE if dtype.itemsize > 1 else hdf5plugin.Blosc.NOSHUFFLE
    cname: Literal["zstd", "lz4"] = "zstd" if name == "zstd" else "lz4"
    return dict(hdf5plugin.Blosc(cname=cname, clevel=level, shuffle=shuffle))


def bytes_on_disk(path: str | Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)
