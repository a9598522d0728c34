"""Moved to `actor_mimic.common.zarr_chunks` (behind the storage backend: `row_reader`);
this name stays for code that imported it from here."""

from actor_mimic.common.zarr_chunks import ChunkFiles, TransposedChunks

__all__ = ["ChunkFiles", "TransposedChunks"]
