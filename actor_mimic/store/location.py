"""Where a store is: a local path, or a URL that fsspec opens (hf://, s3://, gs://, http(s)://,
memory://, file://).

A location is kept as given: a `Path` for a local store, the URL text for a remote one
(`Path("http://host/x")` would fold the `//` and lose the host). `file://` URLs are local
paths, so they keep the local fast paths (chunk files read directly, symlink checks).

`open_url` turns a URL into an fsspec filesystem and the path inside it, with one-line errors
for what users get wrong: an unknown protocol, and a filesystem whose package is not installed
(named, with the pip command). The files of a store are then read through a byte source,
`LocalFiles` or `RemoteFiles`, both with `read(key) -> bytes | None` (None: no such file),
`key` a '/'-separated name inside the store.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import overload

from actor_mimic.errors import UserError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# The package each fsspec protocol needs, when fsspec's own message does not say it plainly.
PACKAGES = {
    "hf": "huggingface_hub (pip install 'actor-mimic[hub]' or pip install huggingface_hub)",
    "s3": "s3fs (pip install s3fs)",
    "s3a": "s3fs (pip install s3fs)",
    "gs": "gcsfs (pip install gcsfs)",
    "gcs": "gcsfs (pip install gcsfs)",
    "http": "aiohttp (pip install aiohttp)",
    "https": "aiohttp (pip install aiohttp)",
    "az": "adlfs (pip install adlfs)",
    "abfs": "adlfs (pip install adlfs)",
}


def protocol_of(text) -> str | None:
    """The URL protocol of `text` ("s3", "hf", ...), or None for a local path."""
    match = _URL.match(str(text)) if isinstance(text, str) else None
    return match.group(1).lower() if match else None


def is_remote(text) -> bool:
    """True for a URL that is not a local file (file:// URLs are local paths)."""
    return protocol_of(text) not in (None, "file", "local")


@overload
def location(text: Path) -> Path: ...
@overload
def location(text: object) -> Path | str: ...
def location(text) -> Path | str:
    """A store location as code keeps it: the URL text if remote, else a local Path."""
    if is_remote(text):
        return str(text).rstrip("/")
    if protocol_of(text) in ("file", "local"):
        return Path(str(text).split("://", 1)[1])
    return Path(text)


def open_url(url: str):
    """(fsspec filesystem, path inside it) for `url`; UserError naming what to install when
    the filesystem's package is missing, or when the protocol is unknown to fsspec."""
    import fsspec

    protocol = protocol_of(url) or "file"
    try:
        return fsspec.url_to_fs(url)
    except ImportError as error:
        needed = PACKAGES.get(protocol) or str(error)
        raise UserError(f"{url}: reading {protocol}:// URLs needs {needed}") from None
    except ValueError as error:
        if "Protocol not known" in str(error):
            known = "hf://, s3://, gs://, http(s)://, file://, memory://"
            raise UserError(f"{url}: unknown protocol {protocol}:// (fsspec knows e.g. {known})") from None
        raise UserError(f"{url}: not a URL fsspec can open ({error})") from None


def join(root: str, key: str) -> str:
    return f"{root.rstrip('/')}/{key}" if key else root


class LocalFiles:
    """The files of a store in a local folder (or, with key "", a single file)."""

    remote = False

    def __init__(self, root: Path):
        self.root = Path(root)
        self._root = str(self.root)

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def read(self, key: str) -> bytes | None:
        # os.path, not pathlib: the loader reads a file per chunk, and pathlib's objects cost
        # about as much as reading a small chunk's bytes
        try:
            with open(os.path.join(self._root, key) if key else self._root, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def sizes(self, keys: list[str]) -> list[int | None]:
        return [self.size(key) for key in keys]


class RemoteFiles:
    """The files of a store under a URL, read through fsspec (only the files asked for)."""

    remote = True

    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = open_url(url)

    def path(self, key: str) -> str:
        return join(self.root, key)

    def read(self, key: str) -> bytes | None:
        try:
            return self.fs.cat_file(self.path(key))
        except FileNotFoundError:
            return None

    def size(self, key: str) -> int | None:
        try:
            return int(self.fs.size(self.path(key)))
        except FileNotFoundError:
            return None

    def sizes(self, keys: list[str]) -> list[int | None]:
        """Sizes of many files at once (asynchronous filesystems ask for them concurrently)."""
        sizes = self.fs.sizes([self.path(key) for key in keys])
        return [None if size is None else int(size) for size in sizes]
