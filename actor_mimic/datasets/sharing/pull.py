"""`amn dataset pull URL DIR`: fetch a teacher store into DIR/NAME, checked, resumable.

A Zarr store is fetched file by file into `DIR/NAME.partial`, its files named from its own
metadata (store/files.py: no listing needed, so plain HTTP works): first the metadata,
checksum chunks and card, then every data chunk, each checked against the CRC-32C the store
records for it as it arrives. A chunk already in the partial folder whose bytes match its
CRC-32C is kept, so running the same command again after an interruption fetches only what is
missing or damaged. The root `zarr.json` (the attribute document) is written last: until
then the folder is not a store at all, and its name ends in `.partial` besides. Then
`amn dataset verify` runs on it whole (schema, every chunk, every row), and only a sound store
is renamed to `DIR/NAME`.

An HDF5 store is one file (`NAME.h5`, its card `NAME.h5.README.md` beside it): fetched into
`DIR/NAME.h5.partial`, continued from its size when interrupted, verified, then renamed.

`DIR/NAME` is an output like any other (common/outputs.py): an existing one is replaced only
with `--overwrite`, and only if it is a teacher store.
"""

from __future__ import annotations

from pathlib import Path

from actor_mimic.common.outputs import (
    Output,
    check_folder,
    check_output,
    make_parents,
    remove,
    rename_into_place,
    shown,
)
from actor_mimic.datasets.inspection import verify_store
from actor_mimic.datasets.sharing.convert import is_teacher_store
from actor_mimic.datasets.sharing.transfer_files import (
    checked_keys,
    complete_store,
    is_hdf5_name,
    progress_bar,
    store_name,
    write_file,
)
from actor_mimic.errors import UserError
from actor_mimic.store import (
    CARD_NAME,
    ROOT_METADATA,
    RemoteFiles,
    card_path,
    check_digest_text,
    crc32c,
    is_generated_card,
    is_remote,
    location,
    open_store,
    open_url,
    protocol_of,
    recorded_checksums,
    store_digest,
    store_files,
)

PARTIAL = ".partial"


def pull(
    url: str, folder, overwrite: bool = False, progress: bool = True, digest: str | None = None
) -> tuple[Path, int, int]:
    """Fetch the store at `url` into `folder`/NAME. Returns (path, files fetched, files kept
    from an interrupted pull). With `digest` (`sha256:...`, as `amn dataset info` prints it),
    a store whose content digest differs is refused: before its chunks are fetched, and again
    on the fetched copy before it is installed."""
    url = str(url).rstrip("/")
    digest = None if digest is None else check_digest_text(digest)
    if protocol_of(url) is None:
        raise UserError(
            f"URL {shown(url)} is not a URL (hf://, s3://, gs://, http(s)://, file://...): copy local stores with cp"
        )
    if is_remote(url):
        open_url(url)  # an unknown protocol or a missing package, before anything else
    name = store_name(url)
    folder = check_folder(folder, "DIR", "folder to pull into")
    hdf5 = is_hdf5_name(name)
    what = Output("teacher store", flag="DIR/NAME", folder=not hdf5, is_ours=is_teacher_store)
    target = check_output(folder / name, what, replace=overwrite)
    source = location(url)
    if isinstance(source, Path) and (  # location(): a Path unless remote
        source.resolve() == target.resolve() or target.resolve().is_relative_to(source.resolve())
    ):
        raise UserError(f"DIR/NAME {shown(target)} is the source store or lies inside it: choose another DIR")
    partial = target.with_name(target.name + PARTIAL)
    if partial.is_symlink() or (partial.exists() and partial.is_dir() == hdf5):
        raise UserError(f"{shown(partial)} exists and is not an interrupted pull of {name}: move it away")
    if hdf5:
        return _pull_hdf5(url, target, partial, overwrite, progress, digest)
    return _pull_zarr(url, target, partial, progress, digest)


def _check_digest(backend, attrs: dict, wanted: str | None, url: str, where: str) -> None:
    """Refuse a store whose content digest is not the one the user asked for."""
    if wanted is None:
        return
    found = store_digest(backend, attrs)
    if found != wanted:
        raise UserError(
            f"{url}: its digest is {found}, not the {wanted} you asked for ({where}): the server holds other "
            "bytes than the publisher's; nothing was installed"
        )


def _pull_zarr(url: str, target: Path, partial: Path, progress: bool, digest: str | None) -> tuple[Path, int, int]:
    source, attrs = complete_store(url, "teacher store")
    _check_digest(source, attrs, digest, url, "its document and chunk checksums, before fetching the chunks")
    files = checked_keys(store_files(source, attrs), url)
    make_parents(target.parent)
    partial.mkdir(exist_ok=True)
    fetched = kept = 0
    with progress_bar(len(files), f"pull {target.name}", progress) as bar:
        # Metadata, checksums, card: small, always fetched again (they tell what the rest must be).
        for file in files:
            if file.array is None and file.key != ROOT_METADATA:
                write_file(partial / file.key, _fetch(source, file.key, url))
                fetched += 1
                bar.update()
        checksums = _local_checksums(partial, files)
        for file in files:
            if file.array is None:
                continue
            expected = checksums[file.array][file.index] if file.index < len(checksums[file.array]) else None
            path = partial / file.key
            if expected is not None and path.is_file() and crc32c(path.read_bytes()) == expected:
                kept += 1
            else:
                data = _fetch(source, file.key, url)
                if expected is None or crc32c(data) != expected:
                    raise UserError(
                        f"{url}: {file.where} does not match its recorded CRC-32C: the remote store is damaged; "
                        f"nothing was installed at {shown(target)} (the sound files are kept in {shown(partial)})"
                    )
                write_file(path, data)
                fetched += 1
            bar.update()
        write_file(partial / ROOT_METADATA, _fetch(source, ROOT_METADATA, url))
        bar.update()
    _install(partial, target, digest, url)
    return target, fetched + 1, kept


def _fetch(source, key: str, url: str) -> bytes:
    data = source.files.read(key)
    if data is None:
        raise UserError(f"{url}: the store's file {key} is missing on the remote side; the remote store is incomplete")
    return data


def _local_checksums(partial: Path, files) -> dict:
    """The checksums just fetched, read from the partial folder's checksum arrays."""
    import zarr

    class Arrays:  # what `recorded_checksums` needs of a backend
        def array(self, name):
            return zarr.open_array(str(partial / name), mode="r")

    return {name: [int(v) for v in values] for name, values in recorded_checksums(Arrays(), files).items()}


def _install(partial: Path, target: Path, digest: str | None, url: str) -> None:
    """Verify the fetched store whole (and its digest, if asked); rename it into place if sound."""
    problems = verify_store(partial)
    if not problems and digest is not None:
        with open_store(partial) as (backend, info):
            found = store_digest(backend, info.attrs)
        if found != digest:
            problems = [f"its digest is {found}, not the {digest} you asked for: the server holds other bytes"]
    if problems:
        if partial.is_dir():
            remove(partial / ROOT_METADATA)  # never a readable store while it is unsound
        else:
            remove(partial)  # an HDF5 file that does not verify cannot be continued
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise UserError(f"{shown(partial)}: {problems[0]}{more}; nothing was installed at {shown(target)}")
    rename_into_place(partial, target)


def _pull_hdf5(
    url: str, target: Path, partial: Path, overwrite: bool, progress: bool, digest: str | None
) -> tuple[Path, int, int]:
    source = RemoteFiles(url)
    size = source.size("")
    if size is None:
        raise UserError(f"teacher store {url} does not exist")
    card_target = card_path(target)
    if card_target.exists() and not is_generated_card(card_target) and not overwrite:
        raise UserError(f"{shown(card_target)} exists and is not a dataset card written by actor-mimic: move it away")
    make_parents(target.parent)
    have = partial.stat().st_size if partial.is_file() else 0
    if have > size:
        remove(partial)
        have = 0
    with progress_bar(2, f"pull {target.name}", progress) as bar:
        if have < size:  # continue from where an interrupted pull stopped
            with open(partial, "ab") as handle:
                handle.write(source.fs.cat_file(source.path(""), start=have))
        bar.update()
        card = RemoteFiles(url + CARD_NAME_SUFFIX).read("")
        bar.update()
    _install(partial, target, digest, url)
    if card is not None:
        write_file(card_target, card)
    return target, 1 + (card is not None), int(have == size)


CARD_NAME_SUFFIX = "." + CARD_NAME  # an HDF5 store's card: NAME.h5.README.md
