"""The output rules every command follows (actor_mimic.common.outputs), on real files."""

from __future__ import annotations

import pytest

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert, save_checkpoint
from actor_mimic.common.outputs import Output, atomic_output, check_folder, check_output
from actor_mimic.errors import UserError

TABLE = Output("table", is_ours=lambda path: path.read_text().startswith("ours"))


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_complete_output_is_renamed_into_place_with_its_parents_made(tmp_path):
    target = tmp_path / "a" / "b" / "table.csv"
    with atomic_output(target) as temporary:
        assert temporary == tmp_path / "a" / "b" / "table.csv.partial" and not target.exists()
        temporary.write_text("ours\n")
    assert target.read_text() == "ours\n" and tree(tmp_path) == ["a", "a/b", "a/b/table.csv"]


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_output_and_nothing_else(tmp_path, failure):
    old = tmp_path / "table.csv"
    old.write_text("ours, old\n")
    with pytest.raises(type(failure)), atomic_output(old) as temporary:
        temporary.write_text("half of the new")
        raise failure
    assert old.read_text() == "ours, old\n" and tree(tmp_path) == ["table.csv"]
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "new" / "deeper" / "t.csv") as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert tree(tmp_path) == ["table.csv"], "the folders made for the output are removed again"


def test_a_folder_output_replaces_the_old_folder_whole(tmp_path):
    target = tmp_path / "checkpoint"
    target.mkdir()
    (target / "old.json").write_text("1")
    (tmp_path / "checkpoint.partial").mkdir()  # left by a process killed while writing
    (tmp_path / "checkpoint.partial" / "junk").write_text("x")
    with atomic_output(target) as temporary:
        temporary.mkdir()
        (temporary / "new.json").write_text("2")
    assert tree(tmp_path) == ["checkpoint", "checkpoint/new.json"]


def test_file_system_errors_name_the_output(tmp_path):
    with (
        pytest.raises(UserError, match=r"cannot create the folder /sys/amn-test"),
        atomic_output("/sys/amn-test/t.csv") as temporary,
    ):
        temporary.write_text("x")


def test_existing_outputs_are_replaced_only_when_asked_and_only_if_ours(tmp_path):
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    ours.write_text("ours\n")
    theirs.write_text("theirs\n")
    assert check_output(tmp_path / "new.csv", TABLE) == tmp_path / "new.csv"
    with pytest.raises(UserError, match="ours.csv already exists: pass --overwrite to replace it"):
        check_output(ours, TABLE)
    assert check_output(ours, TABLE, replace=True) == ours
    with pytest.raises(UserError, match="theirs.csv exists and is not a table written by actor-mimic"):
        check_output(theirs, TABLE, replace=True)
    (tmp_path / "link.csv").symlink_to(ours)
    with pytest.raises(UserError, match="link.csv exists and is not a table"):
        check_output(tmp_path / "link.csv", TABLE, replace=True)


@pytest.mark.parametrize(
    "path, message",
    [
        ("", "--out is empty"),
        (".", "--out . names a folder"),
        ("sub/..", "names a folder"),
        ("a\tb", "control characters"),
        ("notes.txt/t.csv", "notes.txt is a file, not a folder"),
    ],
)
def test_paths_that_cannot_be_an_output(tmp_path, monkeypatch, path, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match=message):
        check_output(path, TABLE, replace=True)
    assert tree(tmp_path) == ["notes.txt"]


def test_folders_of_outputs_may_exist_but_not_be_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    assert check_folder(".", "--out-dir") == tmp_path.relative_to(tmp_path)
    assert check_folder("new/deeper", "--out-dir").name == "deeper"
    for path, message in (("", "--out-dir is empty"), ("notes.txt", "is a file; it must name a folder"),
                          ("a\nb", "control characters"), ("/sys/amn-test", "cannot write in /sys")):  # fmt: skip
        with pytest.raises(UserError, match=message):
            check_folder(path, "--out-dir")
    assert tree(tmp_path) == ["notes.txt"]


def test_checkpoints_are_never_replaced_silently_and_failures_leave_no_partial(tmp_path):
    """The issue's cases: init over a checkpoint replaced it; a folder as --out left a .tmp."""
    expert = random_init_expert(AtariConfig("pong"))
    path = save_checkpoint(tmp_path / "e.safetensors", expert.network, expert.metadata)
    before = path.read_bytes()
    with pytest.raises(UserError, match="already exists: pass --overwrite"):
        save_checkpoint(path, expert.network, expert.metadata)
    assert path.read_bytes() == before
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        save_checkpoint(tmp_path / "dir.safetensors", expert.network, expert.metadata, overwrite=True)
    other = random_init_expert(AtariConfig("pong"), seed=9)
    save_checkpoint(path, other.network, other.metadata, overwrite=True)
    assert path.read_bytes() != before
    assert tree(tmp_path) == ["dir.safetensors", "e.safetensors"]
