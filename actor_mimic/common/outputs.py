"""Where commands write: check the output location first, write beside it, rename on success.

Every command that writes follows the same rules (README, "What is guaranteed"):

1. **Checked before anything is touched.** `check_output` refuses, with one line naming the
   path: an empty path; `.`, `..` or `/` where a file or a store is expected (and any folder
   that holds the current folder); a name with control characters (a newline cannot be
   printed on one line); a wrong file name ending (`.safetensors` for checkpoints); a folder
   where a file is expected and the reverse; a parent that is a file or a folder the user
   cannot write.
2. **Replaced only when asked, and only if ours.** An existing output is replaced only with the
   command's replace flag (`--overwrite`), and only if this project wrote it (`is_ours`: a
   checkpoint with its metadata, a teacher store with its attribute document, a file of the
   exact form the command writes). Anything else is refused, whatever the flags.
3. **Missing parent folders are created** (like `mkdir -p`), after every check passed; if the
   command then fails, the folders it created are removed again.
4. **Written beside, renamed into place.** `atomic_output` yields a temporary sibling
   `NAME.partial`; only a complete output is renamed over NAME (a folder being replaced is
   first moved aside to `NAME.old`, then deleted). On any error or Ctrl-C the temporary is
   removed: a failed command leaves neither a half-written output nor a `.partial` behind.

Teacher stores are the one output written in place, because an interrupted collection must
stay resumable: their own commit protocol and `complete` flag play the part of the rename
(`actor_mimic.store.writer`), and `amn collect --overwrite` sets the old store aside until
the new one is complete (`actor_mimic.collect.store_opening`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from actor_mimic.errors import UserError

PARTIAL = ".partial"
OLD = ".old"


@dataclass(frozen=True)
class Output:
    """What a command writes at one path, for `check_output`.

    noun      what it is, in messages ("checkpoint", "teacher store")
    flag      the option that names it ("--out")
    folder    True: a folder; False: a file; None: either
    suffixes  accepted name endings (empty: any)
    is_ours   recognises an existing output this project wrote (None: nothing is replaceable)
    """

    noun: str
    flag: str = "--out"
    folder: bool | None = False
    suffixes: tuple[str, ...] = ()
    is_ours: Callable[[Path], bool] | None = None


def an(noun: str) -> str:
    """`noun` with its indefinite article."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def shown(path) -> str:
    """A path as messages show it: printable, on one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def check_output(
    path, what: Output, replace: bool = False, replace_flag: str | None = "--overwrite", exists_hint: str | None = None
) -> Path:
    """The output path, after checking rules 1 and 2 above. Touches nothing on disk.

    `replace`: the user asked to replace an existing output with `replace_flag` (None: the
    command has no such flag). `exists_hint` replaces the default advice when the output
    exists and `replace` is False."""
    text = "" if path is None else str(path)
    if not text.strip():
        raise UserError(f"{what.flag} is empty: give the path of the {what.noun} to write")
    if not text.isprintable():
        raise UserError(
            f"{what.flag} {shown(text)} holds control characters (a newline, a tab, an escape): choose a plain name"
        )
    target = Path(text)
    if target.name in ("", "..") or text.rstrip("/").endswith(("/.", "/..")):
        raise UserError(f"{what.flag} {text} names a folder, not {an(what.noun)}: give its full name")
    if what.suffixes and not target.name.endswith(what.suffixes):
        raise UserError(f"{what.flag} {text}: {an(what.noun)}'s name must end in {' or '.join(what.suffixes)}")
    if Path.cwd().resolve().is_relative_to(target.resolve()):
        raise UserError(f"{what.flag} {text} holds the current folder: it cannot be {an(what.noun)}")
    check_parent(target, what.flag)
    if not (target.exists() or target.is_symlink()):
        return target
    if what.folder is False and target.is_dir():
        raise UserError(f"{what.flag} {text} is a folder; it must name {an(what.noun)} file")
    if what.folder is True and not target.is_dir():
        raise UserError(f"{what.flag} {text} is a file; it must name {an(what.noun)} folder")
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        return target  # an empty folder: nothing to lose
    if replace_flag is None:  # this output is never replaced
        raise UserError(f"{text} already exists: {exists_hint or f'choose another {what.flag}'}")
    if target.is_symlink() or what.is_ours is None or not what.is_ours(target):
        raise UserError(
            f"{text} exists and is not {an(what.noun)} written by actor-mimic: it is never replaced "
            f"({replace_flag} only replaces those); move it away or choose another {what.flag}"
        )
    if not replace:
        raise UserError(f"{text} already exists: {exists_hint or f'pass {replace_flag} to replace it'}")
    return target


def check_folder(path, flag: str, noun: str = "output folder") -> Path:
    """A folder that a command writes named outputs into (a run folder, a results folder).
    It may exist and hold other files, which stay untouched; each named output in it is
    checked with `check_output`. Rule 1 applies; `.` is a valid folder here."""
    text = "" if path is None else str(path)
    if not text.strip():
        raise UserError(f"{flag} is empty: give the {noun}'s path")
    if not text.isprintable():
        raise UserError(f"{flag} {shown(text)} holds control characters: choose a plain name")
    target = Path(text)
    if target.exists() and not target.is_dir():
        raise UserError(f"{flag} {text} is a file; it must name a folder (the {noun})")
    if target.is_dir():
        check_writable(target, flag, target)
    else:
        check_parent(target, flag)
    return target


def check_parent(target: Path, flag: str) -> None:
    """The nearest existing folder above `target` must be a folder the user can write."""
    parent = target.parent
    while not parent.exists():
        if parent.is_symlink():
            raise UserError(f"{flag} {shown(target)}: {shown(parent)} is a broken link")
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {shown(target)}: {shown(parent)} is a file, not a folder")
    check_writable(parent, flag, target)


def check_writable(folder: Path, flag: str, target: Path) -> None:
    """Can this process create files in `folder`? Asked of the file system itself (an
    anonymous temporary file, gone when closed), since permission bits do not tell it for
    root, read-only mounts or access control lists."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(
            f"{flag} {shown(target)}: cannot write in {shown(folder)} ({error.strerror or error})"
        ) from None


def make_parents(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                if path.is_dir():  # made meanwhile by another writer (shards of one build): not ours
                    continue
                raise
            created.append(path)
    except OSError as error:
        remove_created(created)
        raise UserError(f"cannot create the folder {shown(path)}: {error.strerror or error}") from None
    return created


def remove_created(folders: list[Path]) -> None:
    """Undo `make_parents`: remove the folders it created, innermost first, if still empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def remove(path: Path) -> None:
    """Delete a file or a folder tree (the caller has established that it may)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_output(path) -> Iterator[Path]:
    """Yield the temporary sibling to write instead of `path`; rename it into place when the
    block ends without error (rule 4). Errors from the file system (permission, disk full)
    become a UserError naming `path`. Call `check_output` first: this replaces what is there."""
    path = Path(path)
    created = make_parents(path.parent)
    temporary = path.with_name(path.name + PARTIAL)
    try:
        remove(temporary)  # left by a process killed while writing: ours, and incomplete
        temporary.touch()  # can we write here? (libraries report it in their own ways)
        temporary.unlink()
        yield temporary
        if not temporary.exists():
            raise RuntimeError(f"nothing was written to {temporary}")
        rename_into_place(temporary, path)
    except BaseException as error:
        remove(temporary)
        remove_created(created)
        if isinstance(error, OSError):
            raise UserError(f"cannot write {shown(path)}: {error.strerror or error}") from None
        raise


def rename_into_place(temporary: Path, path: Path) -> None:
    """Put the finished `temporary` at `path`, replacing what is there (checked by the caller)."""
    if temporary.is_dir() and path.is_dir():
        # A folder cannot replace a folder in one rename: set the old one aside first. A kill
        # between the two renames leaves NAME.old complete (run_state.checkpoint_dir finds it).
        aside = path.with_name(path.name + OLD)
        remove(aside)
        path.rename(aside)
        temporary.rename(path)
        remove(aside)
    else:
        os.replace(temporary, path)


def write_text(path, text: str) -> Path:
    """Write a small text file all at once (atomic_output)."""
    with atomic_output(path) as temporary:
        temporary.write_text(text)
    return Path(path)
