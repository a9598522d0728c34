"""Settings declared once (common/settings.py): a field is a flag, a config-file key and a printed command."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pytest

from actor_mimic.collect.cli import config_from_args, resume_command
from actor_mimic.collect.cli import configure as configure_collect
from actor_mimic.common.arguments import ArgumentParser
from actor_mimic.common.settings import add_settings, build, chosen, command_line, flag_of, setting
from actor_mimic.errors import UserError


@dataclass
class Tiny:
    """A made-up command's settings: each `setting` field is a flag, the last one is not."""

    num_envs: int = setting(8, "parallel environments")
    rate: float | None = setting(None, "a rate", flag="--learning-rate", aliases=("--lr",))
    mode: str = setting("fast", "how to run", choices=("fast", "slow"))
    seeds: list[int] = setting([0], "seeds, one run each")
    labels: list[str] = setting([], "labels", repeat=True)
    steps: int | None = setting(None, "a budget in steps", exclusive="target")
    episodes: int | None = setting(None, "a budget in episodes", exclusive="target")
    progress: bool = setting(False, "show a progress bar", command_default=True)
    python_only: int = 3


def parser_for(cls=Tiny) -> ArgumentParser:
    parser = ArgumentParser(prog="amn tiny")
    add_settings(parser, cls)
    return parser


def parse(argv: list[str], cls=Tiny):
    return build(cls, chosen(parser_for(cls).parse_args([str(word) for word in argv])))


def test_every_setting_field_is_a_flag_with_its_help_and_default():
    help_text = parser_for().format_help()
    for flag, text in [("--num-envs N", "parallel environments (default: 8)"), ("--learning-rate X", "a rate"),
                       ("--mode {fast,slow}", "how to run (default: fast)"), ("--seeds N [N ...]", "(default: 0)"),
                       ("--labels LABELS", "labels"), ("--progress, --no-progress", "(default: on)")]:  # fmt: skip
        assert flag in help_text and text in help_text, (flag, text)
    assert "--python-only" not in help_text and "--lr" not in help_text  # no setting; a hidden alias
    assert flag_of(Tiny, "rate") == "--learning-rate" and flag_of(Tiny, "python_only") == "python_only"


def test_adding_a_field_adds_a_flag():
    @dataclass
    class Bigger(Tiny):
        dropout: float = setting(0.1, "dropout probability")

    assert "--dropout X" not in parser_for().format_help()
    assert "dropout probability (default: 0.1)" in parser_for(Bigger).format_help()
    assert parse(["--dropout", "0.5"], Bigger).dropout == 0.5


def test_flags_read_types_lists_aliases_and_command_defaults():
    assert parse([]) == Tiny(progress=True)  # the command's default, not Python's
    parsed = parse(["--num-envs", 4, "--lr", "1e-4", "--seeds", 1, 2, "--labels", "a", "--labels", "b",
                    "--no-progress", "--episodes", 5])  # fmt: skip
    assert parsed == Tiny(num_envs=4, rate=1e-4, seeds=[1, 2], labels=["a", "b"], progress=False, episodes=5)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--num-envs", "abc"], "argument --num-envs: invalid int value: 'abc'"),
        (["--mode", "medium"], "invalid choice: 'medium'"),
        (["--steps", 1, "--episodes", 2], "not allowed with argument --steps"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_parse_errors_stay_argparse_s(argv, message):
    with pytest.raises(UserError, match=message):
        parse(argv)


def write(tmp_path, text: str) -> str:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return str(path)


def test_a_config_file_gives_the_same_settings_as_the_same_flags(tmp_path):
    config = write(tmp_path, "num_envs: 4\nlearning_rate: 1e-4\nmode: slow\nseeds: [1, 2]\nlabels: [a, b]\n"
                             "episodes: 5\nprogress: false\n")  # fmt: skip
    flags = ["--num-envs", 4, "--learning-rate", "1e-4", "--mode", "slow", "--seeds", 1, 2, "--labels", "a",
             "--labels", "b", "--episodes", 5, "--no-progress"]  # fmt: skip
    assert parse(["--config", config]) == parse(flags)


def test_flags_override_the_file_wherever_they_stand(tmp_path):
    config = write(tmp_path, "num_envs: 4\nseeds: [1, 2]\nsteps: 100\n")
    for argv in (
        ["--config", config, "--num-envs", 2, "--seeds", 7],
        ["--num-envs", 2, "--seeds", 7, "--config", config],
    ):
        assert parse(argv) == Tiny(num_envs=2, seeds=[7], steps=100, progress=True)
    # A flag of an exclusive group overrides the file's rival too.
    assert parse(["--config", config, "--episodes", 3]) == Tiny(num_envs=4, seeds=[1, 2], episodes=3, progress=True)


@pytest.mark.parametrize(
    "text, message",
    [
        ("num-envs: 4\n", "unknown setting 'num-envs': did you mean num_envs?"),
        ("python_only: 4\n", "unknown setting 'python_only'"),
        ("num_envs: 4.5\n", "num_envs: invalid int value: '4.5'"),
        ("num_envs: [1, 2]\n", "num_envs must be a single value"),
        ("mode: medium\n", "mode: invalid choice: 'medium'"),
        ("progress: maybe\n", "progress must be true or false"),
        ("- num_envs\n", "must hold `key: value` settings, not a list"),
        ("num_envs: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    config = write(tmp_path, text)
    with pytest.raises(UserError) as raised:
        parse(["--config", config])
    assert message in str(raised.value) and f"--config {config}" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        parse(["--config", str(tmp_path / "nowhere.yaml")])


def test_command_line_reproduces_the_settings():
    settings = Tiny(num_envs=4, rate=0.5, seeds=[1, 2], labels=["a b", "c"], steps=9, progress=False)
    words = command_line(settings)
    assert words == ["--num-envs", "4", "--learning-rate", "0.5", "--seeds", "1", "2", "--labels", "a b",
                     "--labels", "c", "--steps", "9", "--no-progress"]  # fmt: skip
    assert parse(words) == settings


def collect_config(argv: list[str]):
    parser = ArgumentParser(prog="amn collect")
    configure_collect(parser)
    return config_from_args(parser.parse_args(argv))


def test_collect_reads_a_config_file_and_its_resume_command_needs_none(tmp_path):
    config = write(tmp_path, "expert: e.safetensors\nout: s.zarr\nsteps: 1000\nnum_envs: 4\nsticky_actions: 0.25\n"
                             "shard: 1/2\n")  # fmt: skip
    from_file = collect_config(["--config", config, "--seed", "3"])
    flags = ["--expert", "e.safetensors", "--out", "s.zarr", "--steps", "1000", "--num-envs", "4",
             "--sticky", "0.25", "--shard", "1/2", "--seed", "3"]  # fmt: skip
    assert from_file == collect_config(flags)
    printed = resume_command(from_file)
    assert "--config" not in printed and "--sticky-actions 0.25" in printed and "--shard 1/2" in printed
    assert collect_config(shlex.split(printed)[2:]) == collect_config([*flags, "--resume"])
