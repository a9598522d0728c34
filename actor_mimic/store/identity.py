"""What makes a store the store it is: a sealed document, and one content digest.

**The seal.** Every chunk carries a CRC-32C (checksums.py), but the attribute document decides
what the chunks mean (the game, the action set, the commit), so it is covered too: whenever a
backend writes the document it adds `document_sha256`, the SHA-256 of the rest of the document
in canonical JSON (sorted keys, no spaces). A document edited by hand afterwards no longer
matches, and readers refuse it naming the edit. Documents written before the seal existed
have none; `amn dataset verify` says so.

**The digest.** `store_digest` is one SHA-256 over the sealed document and the recorded
checksum of every committed chunk of every array, in a fixed order: two stores with the same
digest hold the same document and, chunk for chunk, the same bytes (each chunk is bound to its
checksum on every read). It costs a read of the document and the small checksum arrays, never
of the chunks, so `amn dataset info` prints it, the card carries it, an AMN records the digest
of every store it trained on, and `amn dataset pull --digest` checks a mirror before fetching
the chunks. The same rows written by another engine (`amn dataset convert`) or re-chunked are
other bytes, so another digest: convert and merge record their inputs' digests instead.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from actor_mimic.errors import UserError
from actor_mimic.store.checksums import CHECKSUM_DTYPE, chunks_of, read_checksums
from actor_mimic.store.schema import expected_arrays

SEAL_KEY = "document_sha256"
DIGEST_PREFIX = "sha256:"


def _plain(value):
    """numpy scalars and arrays as the JSON values a backend stores for them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical_json(document: dict) -> bytes:
    """The document without its seal, as canonical JSON bytes: what the seal is taken over."""
    unsealed = {key: value for key, value in document.items() if key != SEAL_KEY}
    return json.dumps(unsealed, sort_keys=True, separators=(",", ":"), default=_plain).encode()


def sealed(document: dict) -> dict:
    """The document with its seal (`document_sha256`), ready to be written."""
    plain = json.loads(canonical_json(document))
    return {**plain, SEAL_KEY: hashlib.sha256(canonical_json(plain)).hexdigest()}


def seal_problem(document: dict) -> str | None:
    """None if the document matches its seal, or has none (written before seals existed);
    otherwise one line saying that it was edited after it was written."""
    seal = document.get(SEAL_KEY)
    if seal is None:
        return None
    if not isinstance(seal, str) or seal != hashlib.sha256(canonical_json(document)).hexdigest():
        return (
            "its attribute document was edited after it was written (it no longer matches its "
            f"{SEAL_KEY}); re-download or recollect the store"
        )
    return None


def is_sealed(document: dict) -> bool:
    return SEAL_KEY in document


def store_digest(backend, attrs: dict) -> str:
    """`sha256:<hex>` over the sealed document and every committed chunk's recorded checksum.

    attrs: the checked document of the store open in `backend` (schema 2 on: chunk checksums).
    """
    if attrs["schema_version"] < 2:
        raise UserError(f"{backend.path}: a schema 1 store has no chunk checksums, so no digest; convert it")
    digest = hashlib.sha256()
    digest.update(canonical_json(attrs))
    digest.update(str(attrs.get(SEAL_KEY, "")).encode())
    for name, (_, _, chunk_len, rows) in sorted(expected_arrays(attrs).items()):
        count = chunks_of(rows, chunk_len)
        checksums = read_checksums(backend, name, count, int(attrs["schema_version"]))
        digest.update(f"\n{name}:{count}:".encode())
        digest.update(np.asarray(checksums, dtype=CHECKSUM_DTYPE).astype("<u4").tobytes())
    return DIGEST_PREFIX + digest.hexdigest()


def check_digest_text(text: str) -> str:
    """A digest as typed by a user (`sha256:` + 64 hex digits), or a UserError naming the form."""
    value = text.strip().lower() if isinstance(text, str) else ""
    hexpart = value.removeprefix(DIGEST_PREFIX)
    if not value.startswith(DIGEST_PREFIX) or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise UserError(f"--digest {text!r}: give the store's digest as `amn dataset info` prints it, sha256:<64 hex>")
    return value
