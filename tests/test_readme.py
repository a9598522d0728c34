"""Every command in the README's ```bash blocks still works as shown.

Each command is treated by the first rule of RULES whose prefix it starts with:

- "run": run for real, in a temporary folder, at tiny scale (SCALE_DOWN rewrites the
  arguments that would make it long); commands run in README order, so `amn collect` makes
  the store the `amn dataset` commands after it read;
- "help": too long, or needs the network or files the reader brings: the subcommand must
  exist and every flag the README passes must appear in its `--help`;
- "make": the Makefile target exists;
- "yaml": a settings file written by a heredoc: every key is a flag of the command after it.

A README command that no rule covers fails, and so does a rule that no command uses: add or
drop a rule when the README changes.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from actor_mimic.cli import main

ROOT = Path(__file__).resolve().parents[1]

RULES: list[tuple[str, str]] = [
    ("make demo", "make"),
    ("make test", "make"),
    ("cat > breakout.yaml", "yaml"),
    ("amn checkpoint info", "run"),
    ("amn checkpoint init", "run"),
    ("amn checkpoint import-sb3", "help"),  # needs an SB3 model zip
    ("amn checkpoint import-cleanrl", "help"),  # needs a CleanRL model file
    ("amn collect", "run"),
    ("amn dataset info https://", "help"),  # network
    ("amn dataset info", "run"),
    ("amn dataset verify", "run"),
    ("amn dataset card", "run"),
    ("amn dataset convert", "run"),
    ("amn dataset push", "help"),  # network (hf://)
    ("amn dataset pull", "help"),  # network (hf://)
    ("amn dataset merge", "help"),  # needs two collections of one game (tests/datasets/test_merge.py)
    ("amn dataset export-minari", "help"),  # optional dependency, minutes (tests/datasets/test_minari_export.py)
    ("amn dataset build", "help"),  # a cluster, or minutes of collection (tests/pipelines/test_dataset_build.py)
    ("amn distill fit", "help"),  # minutes of training (tests/distill)
    ("amn evaluate", "help"),  # minutes of play (tests/pipelines)
    ("amn diagnose", "help"),  # minutes of play (tests/pipelines/diagnosis)
    ("amn train-dqn", "help"),  # hours (tests/transfer)
    ("amn transfer", "help"),  # hours (tests/transfer)
    ("srun amn distill fit", "help"),  # GPUs on a Slurm cluster
    ("torchrun", "help"),  # GPUs on several nodes
]

# Arguments rewritten for the "run" commands: the README's stores are collected at tiny scale
# (one game: the shipped Breakout expert), and its other store names point to that store.
SCALE_DOWN = {
    "200000": "64",
    "data/pong.zarr": "data/breakout.zarr",
    "data/pong.h5": "data/breakout.h5",
}
TINY_COLLECT = ["--num-envs", "1", "--chunk-len", "32", "--no-progress"]


def readme_commands() -> list[tuple[str, str]]:
    """(command, heredoc body) for every command in the README's ```bash blocks, with line
    continuations joined and comments dropped."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        lines = iter(block.replace("\\\n", " ").splitlines())
        for line in lines:
            command = " ".join(shlex.split(line, comments=True))
            if not command:
                continue
            body = ""
            heredoc = re.search(r"<<\s*'?(\w+)'?", line)
            if heredoc:
                body_lines = []
                for more in lines:
                    if more.strip() == heredoc.group(1):
                        break
                    body_lines.append(more)
                body = "\n".join(body_lines)
            commands.append((command, body))
    return commands


def rule_of(command: str) -> tuple[str, str] | None:
    return next(((prefix, kind) for prefix, kind in RULES if command.startswith(prefix)), None)


def subcommand_and_flags(command: str) -> tuple[list[str], list[str]]:
    """`amn dataset push X --overwrite` -> (["dataset", "push"], ["--overwrite"]); a launcher's
    own words before `amn` (`srun`, `torchrun ... --no-python`) are left out."""
    tokens = shlex.split(command)
    tokens = tokens[tokens.index("amn") + 1 :]
    path = []
    for token in tokens:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", token):
            break
        path.append(token)
    flags = [token.split("=")[0] for token in tokens if token.startswith("--")]
    return path, flags


def help_text(path: list[str], capsys) -> str:
    """`amn PATH --help`: argparse exits, `amn distill` (LightningCLI) returns its status."""
    capsys.readouterr()
    try:
        status = main([*path, "--help"])
    except SystemExit as stop:
        status = stop.code
    assert status in (0, None), f"amn {' '.join(path)} --help failed"
    return capsys.readouterr().out


def test_every_readme_command_has_a_rule_and_every_rule_a_command():
    commands = [command for command, _ in readme_commands()]
    assert len(commands) > 20, "the README's ```bash blocks were not found"
    uncovered = [command for command in commands if rule_of(command) is None]
    assert not uncovered, f"README commands without a rule in tests/test_readme.py: {uncovered}"
    used = {rule_of(command) for command in commands}
    assert not [rule for rule in RULES if rule not in used], "rules no README command uses"


@pytest.mark.parametrize(
    "command", [command for command, _ in readme_commands() if (rule_of(command) or ("", ""))[1] == "help"]
)
def test_long_commands_exist_with_the_flags_the_readme_shows(command, capsys):
    path, flags = subcommand_and_flags(command)
    text = help_text(path, capsys)
    missing = [flag for flag in flags if flag not in text]
    assert not missing, f"`{command}`: amn {' '.join(path)} --help does not know {missing}"
    shipped = [token for token in shlex.split(command) if token.startswith("configs/")]
    assert all((ROOT / token).exists() for token in shipped), f"`{command}`: {shipped} not in the repository"


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    for command, _ in readme_commands():
        if (rule_of(command) or ("", ""))[1] == "make":
            target = command.split()[1]
            assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), f"no Makefile target {target!r}"


def test_settings_files_use_the_commands_flags(capsys):
    commands = readme_commands()
    for index, (command, body) in enumerate(commands):
        if (rule_of(command) or ("", ""))[1] != "yaml":
            continue
        name = command.split(">")[1].split("<<")[0].strip()
        user = next(c for c, _ in commands[index + 1 :] if name in c)
        path, _ = subcommand_and_flags(user)
        text = help_text(path, capsys)
        assert "--config" in text
        for line in body.splitlines():
            key = line.split(":")[0].strip()
            flag = "--" + key.replace("_", "-")
            assert flag in text, f"{name}: key {key!r} is not a flag of amn {' '.join(path)} ({flag})"


def test_cheap_commands_run_at_tiny_scale(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experts").symlink_to(ROOT / "experts")
    for command, _ in readme_commands():
        if (rule_of(command) or ("", ""))[1] != "run":
            continue
        argv = [SCALE_DOWN.get(token, token) for token in shlex.split(command)[1:]]
        if argv[0] == "collect":
            argv += TINY_COLLECT
        expanded = []
        for token in argv:
            expanded += sorted(str(p) for p in Path().glob(token)) if "*" in token else [token]
        capsys.readouterr()
        status = main(expanded)
        assert status == 0, f"`{command}` (run as amn {' '.join(expanded)}) exited {status}: {capsys.readouterr().err}"
