"""Every bad input of the catalogue: exit status 2, one line, no traceback, nothing changed.

The commands run in this process (`actor_mimic.cli.main`), so an unexpected exception is not
turned into a one-line message here: it fails the test with its traceback, as a bug should.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from actor_mimic.cli import main
from tests.bad_inputs.catalogue import CASES, render_markdown
from tests.bad_inputs.world import build_world

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bad_inputs.md"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return build_world(tmp_path_factory.mktemp("world"))


def snapshot(folder: Path) -> dict:
    """Every path below `folder` with its kind, size and modification time."""
    return {
        str(path.relative_to(folder)): (path.is_dir(), path.stat().st_size if path.is_file() else 0,
                                        path.stat().st_mtime_ns)
        for path in folder.rglob("*")
    }  # fmt: skip


def case_id(case) -> str:
    return case.what.replace(" ", "-")


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}-{case_id(c)}" for i, c in enumerate(CASES, 1)])
def test_bad_input_is_one_line_and_changes_nothing(case, world, capsys, monkeypatch):
    monkeypatch.chdir(world / "cwd")
    argv = shlex.split(case.command.format(w=world, nl="\n", esc="\x1b"))
    before = snapshot(world)
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (status, out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("amn") and "error:" in lines[0], err
    assert case.message.format(w=world) in lines[0], lines[0]
    assert snapshot(world) == before
    assert not (world / "code-ran").exists()


def test_the_catalogue_is_large_and_its_docs_are_current():
    assert len(CASES) >= 80
    assert len({case.command for case in CASES}) == len(CASES), "a row is repeated"
    assert DOCS.read_text() == render_markdown(), (
        "regenerate: python -m tests.bad_inputs.catalogue > docs/bad_inputs.md"
    )
