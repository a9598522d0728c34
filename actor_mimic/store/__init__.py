"""The teacher store: what `amn collect` writes and `actor_mimic.datasets` reads.

One import surface for everything above it (collect, datasets, distill, benchmarks); the
modules below are the store's own parts, each with one job:

    schema.py        the attribute document: keys, types, ranges, agreement, arrays expected
    writer.py        StoreWriter: lanes of chunks committed whole (the layout, in its docstring)
    resume.py        reopening a store a killed writer left
    reader.py        open_store: (backend, StoreInfo), episode tables, read_field
    backends.py      Zarr and HDF5 behind the `Backend` protocol; codecs; bytes on disk
    zarr_chunks.py   whole-chunk Zarr reads decoded straight into numpy (the fast path)
    checksums.py     the CRC-32C of every chunk, recorded on write and checked on read
    dedup.py         activations stored once per window
    finite.py        the one check that Q-values and activations hold no NaN or infinities
    hdf5.py          copying a store chunk by checked chunk; writing one HDF5 file
    files.py         the files a Zarr store is made of, from its metadata alone
    location.py      local paths and fsspec URLs
    identity.py      the document's seal and the store's content digest
    meaning.py       whether a document means something the toolkit can reproduce
    card.py          the dataset card (card_markdown.py: its text)
    teacher.py       what the teacher's stored outputs are (Q-values or logits), who trained it
"""

from actor_mimic.store.backends import (
    BACKENDS,
    Backend,
    HDF5Backend,
    ZarrBackend,
    backend_by_name,
    bytes_on_disk,
    open_backend,
    parse_compression,
)
from actor_mimic.store.card import (
    CARD_NAME,
    card_path,
    front_matter,
    is_generated_card,
    read_card,
    refresh_card,
    render_card,
    write_card,
)
from actor_mimic.store.card_markdown import DEFAULT_LICENSE, TAGS, size_category, table_rows
from actor_mimic.store.checksums import (
    ChunkGuard,
    DamagedChunk,
    checksum_name,
    chunks_of,
    crc32c,
    create_checksums,
    read_checksums,
    record_checksums,
)
from actor_mimic.store.dedup import (
    WindowIndex,
    activation_refs,
    bad_reference,
    checked_references,
    distinct_rows,
    read_activations,
    read_lane_rows,
    window_for,
)
from actor_mimic.store.files import ROOT_METADATA, StoreFile, recorded_checksums, store_files, store_size
from actor_mimic.store.finite import NonFiniteValues, check_finite, non_finite_rows
from actor_mimic.store.hdf5 import copy_lane, copy_lanes, write_hdf5
from actor_mimic.store.identity import check_digest_text, is_sealed, seal_problem, store_digest
from actor_mimic.store.location import RemoteFiles, is_remote, location, open_url, protocol_of
from actor_mimic.store.meaning import meaning_problems
from actor_mimic.store.reader import (
    LaneInfo,
    OpenStore,
    StoreInfo,
    open_attrs,
    open_store,
    partial_path,
    read_episodes,
    read_field,
    stored_path,
)
from actor_mimic.store.schema import (
    MAX_CHUNK_LEN,
    MAX_HIDDEN_WINDOW,
    SCHEMA,
    SCHEMA_VERSION,
    SOURCES_SCHEMA_VERSION,
    VALUE_DTYPES,
    array_problems,
    checked_attrs,
    collection_record,
    expected_arrays,
    hidden_window,
    lane_prefix,
    lane_rows,
    lane_sources,
    step_fields,
    stored_fields,
)
from actor_mimic.store.teacher import TEACHER_OUTPUTS, teacher_outputs, teacher_source
from actor_mimic.store.writer import StoreWriter
from actor_mimic.store.zarr_chunks import ChunkFiles

__all__ = [
    "BACKENDS",
    "CARD_NAME",
    "DEFAULT_LICENSE",
    "MAX_CHUNK_LEN",
    "MAX_HIDDEN_WINDOW",
    "ROOT_METADATA",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SOURCES_SCHEMA_VERSION",
    "TAGS",
    "TEACHER_OUTPUTS",
    "VALUE_DTYPES",
    "Backend",
    "ChunkFiles",
    "ChunkGuard",
    "DamagedChunk",
    "HDF5Backend",
    "LaneInfo",
    "NonFiniteValues",
    "OpenStore",
    "RemoteFiles",
    "StoreFile",
    "StoreInfo",
    "StoreWriter",
    "WindowIndex",
    "ZarrBackend",
    "activation_refs",
    "array_problems",
    "backend_by_name",
    "bad_reference",
    "bytes_on_disk",
    "card_path",
    "check_digest_text",
    "check_finite",
    "checked_attrs",
    "checked_references",
    "checksum_name",
    "chunks_of",
    "collection_record",
    "copy_lane",
    "copy_lanes",
    "crc32c",
    "create_checksums",
    "distinct_rows",
    "expected_arrays",
    "front_matter",
    "hidden_window",
    "is_generated_card",
    "is_remote",
    "is_sealed",
    "lane_prefix",
    "lane_rows",
    "lane_sources",
    "location",
    "meaning_problems",
    "non_finite_rows",
    "open_attrs",
    "open_backend",
    "open_store",
    "open_url",
    "parse_compression",
    "partial_path",
    "protocol_of",
    "read_activations",
    "read_card",
    "read_checksums",
    "read_episodes",
    "read_field",
    "read_lane_rows",
    "record_checksums",
    "recorded_checksums",
    "refresh_card",
    "render_card",
    "seal_problem",
    "size_category",
    "step_fields",
    "store_digest",
    "store_files",
    "store_size",
    "stored_fields",
    "stored_path",
    "table_rows",
    "teacher_outputs",
    "teacher_source",
    "window_for",
    "write_card",
    "write_hdf5",
]
