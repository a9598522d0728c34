"""The command-line parser of every `amn` command: argparse, with its errors as one line.

argparse prints a usage block and its error on two lines, then exits; here a parse error
raises `UserError` instead, which `amn` prints as its usual single line, with a pointer to
`--help` (which still prints the full usage).
"""

from __future__ import annotations

import argparse

from actor_mimic.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are `UserError`s (sub-parsers inherit it)."""

    def error(self, message: str):
        raise UserError(f"{message} (see `{self.prog} --help`)")
