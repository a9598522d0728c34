"""How `amn` reports errors: one line by default, a traceback one flag away.

- a user mistake (`UserError`, an argparse error): one line, exit 2;
- `amn --debug ...` or AMN_DEBUG=1: the exception itself, with its traceback;
- any other exception is a bug: the `amn` command prints one line with a hint to rerun with
  --debug (exit 1); `main()` (what tests call) lets it propagate, so tests see bugs.

The subprocess tests run the real command as users do: whatever a library prints on the way
(Lightning's log lines, warnings) must not add lines to a one-line error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actor_mimic.cli import main
from actor_mimic.errors import UserError, one_line

REPO = Path(__file__).resolve().parents[1]
BAD_GAME = ["checkpoint", "init", "--game", "pongg", "--out", "x.safetensors"]


def amn(*argv: str) -> subprocess.CompletedProcess:
    """Run `python -m actor_mimic ARGV` as a user would, from the tests folder."""
    environment = {k: v for k, v in os.environ.items() if k != "AMN_DEBUG"} | {"PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "actor_mimic", *argv]
    return subprocess.run(command, cwd=REPO / "tests", env=environment, capture_output=True, text=True, timeout=300)


def test_a_user_error_is_one_line(capsys):
    assert main(BAD_GAME) == 2
    assert capsys.readouterr().err == "amn checkpoint: error: unknown Atari game 'pongg': did you mean pong?\n"


def test_debug_flag_and_variable_reraise(monkeypatch):
    with pytest.raises(UserError, match="unknown Atari game 'pongg'"):
        main(["--debug", *BAD_GAME])
    monkeypatch.setenv("AMN_DEBUG", "1")
    with pytest.raises(UserError, match="unknown Atari game 'pongg'"):
        main(BAD_GAME)
    monkeypatch.setenv("AMN_DEBUG", "0")
    assert main(BAD_GAME) == 2


def test_messages_are_escaped_onto_one_line():
    assert one_line("no such file 'a\nb\x1b[31m'\n") == "no such file 'a\\nb\\x1b[31m'"


def test_a_bug_is_one_line_with_a_hint_and_a_traceback_with_debug(monkeypatch, capsys):
    """A bug planted in a subcommand, through the `amn` command's own entry point."""
    import actor_mimic.common.checkpoint_cli as checkpoint_cli
    from actor_mimic.cli import entry_point

    monkeypatch.setattr(checkpoint_cli, "run", lambda args: {}["missing key"])
    monkeypatch.setattr(sys, "argv", ["amn", "checkpoint", "info", "x"])
    assert entry_point() == 1
    assert capsys.readouterr().err == (
        "amn: internal error (KeyError: 'missing key'); this is a bug in actor-mimic: rerun with "
        "`amn --debug ...` (or AMN_DEBUG=1) for the traceback and report it\n"
    )
    with pytest.raises(KeyError, match="missing key"):
        main(["checkpoint", "info", "x"])  # what tests call: the bug propagates
    monkeypatch.setattr(sys, "argv", ["amn", "--debug", "checkpoint", "info", "x"])
    with pytest.raises(KeyError, match="missing key"):
        entry_point()


def test_the_real_command_prints_exactly_one_line(tmp_path):
    """Lightning reports what it does ("Seed set to 0") as it starts; none of it may join the
    error line on stderr (it goes to stdout). The config parses; its store is missing, found
    after the seed is set."""
    config = tmp_path / "distill.yaml"
    config.write_text("data:\n  games: [{game: breakout, stores: [missing.zarr]}]\n")
    result = amn("distill", "fit", "--config", str(config))
    assert result.returncode == 2 and result.stdout == "Seed set to 0\n"
    assert result.stderr == "amn distill: error: teacher store missing.zarr does not exist\n"
