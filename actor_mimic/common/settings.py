"""Settings declared once: a dataclass field is a flag, a config-file key and a printed command.

A command's settings are the fields of a dataclass declared with `setting(default, help)`:

    @dataclass
    class CollectConfig:
        num_envs: int = setting(8, "parallel environments")

From that one declaration:
- `add_settings(parser, CollectConfig)` gives the flag `--num-envs N` (its type, help, default
  and choices come from the field) and `--config FILE.yaml`, whose keys are the flags' names
  in snake_case (`num_envs: 8`), read the same way as the flags;
- `chosen(args)` is what the user asked for: the file's values, overridden by the flags typed.
  A setting given nowhere is absent, so a command can tell "not given" from "given as the
  default" (`amn train-dqn`'s flags override a preset's values only where typed);
- `build(cls, chosen)` makes the dataclass, `command_line(settings)` gives the flags that
  reproduce it (the resume command `amn collect` prints).
Fields declared without `setting` are for Python callers only and have no flag.

Validation stays in the dataclass (`__post_init__` or `validate`), which names a setting by
`flag_of(cls, name)`, so a value from a file, a flag or Python is checked once, the same way.

Why a small argparse generator rather than jsonargparse: these commands keep argparse's parse
errors (`invalid int value`, `invalid choice`, `not allowed with argument`) that users and the
bad-input catalogue rely on, and their kebab-case flags. jsonargparse remains the parser of
`amn distill` (LightningCLI), whose convention is snake_case flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actor_mimic.errors import UserError, one_line

CONFIG_DEST = "config"  # the namespace attribute holding the file's values (a `ConfigFile`)
METAVARS = {int: "N", float: "X"}  # in --help; text values show their name (--out OUT)


def setting(default: Any = dataclasses.MISSING, help: str = "", **options) -> Any:
    """A dataclass field that is a command-line setting. `options` (all optional):

    flag             what users type, when not `--field-name` (e.g. `--steps` for total_steps)
    aliases          older spellings still accepted, hidden from --help (e.g. `--sticky`)
    choices          the allowed values (checked by the parser: "invalid choice")
    metavar          the value's name in --help
    parse, show      text -> value and value -> text, for types other than bool/int/float/str
    exclusive        a group name: at most one setting of the group may be given
    repeat           a list given as `--flag A --flag B` (default: `--flag A B`)
    required         the command needs it (from the flags or the file)
    command_default  the command's default when it differs from Python callers' (the field's)
    """
    unknown = set(options) - {"flag", "aliases", "choices", "metavar", "parse", "show", "exclusive", "repeat",
                              "required", "command_default"}  # fmt: skip
    if unknown:
        raise TypeError(f"setting() got unknown options {sorted(unknown)}")
    metadata = {"help": help, **options}
    if isinstance(default, list):  # a mutable default: each instance gets its own copy
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Setting:
    """One setting field as the command line and config files see it."""

    name: str  # the dataclass field
    flag: str  # what users type: --kebab-case
    key: str  # argparse's dest and the config-file key: the flag in snake_case
    kind: type  # bool, int, float or str: how one value is read from text
    many: bool  # a list of `kind`
    default: Any  # the command's default (dataclasses.MISSING: none)
    options: dict

    @property
    def convert(self) -> Callable[[str], Any]:
        """Text -> value. `int` and `float` themselves, so argparse says "invalid int value"."""
        return self.options.get("parse") or self.kind

    def show(self, value) -> str:
        return self.options.get("show", str)(value)


@functools.cache
def settings_of(cls) -> tuple[Setting, ...]:
    """The settings of dataclass `cls`, in field order."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata:
            continue
        options = dict(field.metadata)
        flag = options.get("flag") or "--" + field.name.replace("_", "-")
        kind, many = _value_type(hints[field.name])
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING
        default = options.get("command_default", default)
        found.append(Setting(field.name, flag, flag[2:].replace("-", "_"), kind, many, default, options))
    return tuple(found)


def _value_type(annotation) -> tuple[type, bool]:
    """(kind, many) of an annotation: `int | None` -> (int, False), `list[int]` -> (int, True).
    Anything else (a path, `Any`, a tuple with its own `parse`) is read as text."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    if is_union and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        return _value_type(typing.get_args(annotation)[0])[0], True
    if annotation in (bool, int, float, str):
        return annotation, False
    return str, False


def flag_of(cls, name: str) -> str:
    """How messages name field `name` of `cls`: its flag, or the field name if it has none."""
    for item in settings_of(cls):
        if item.name == name:
            return item.flag
    return name


# --- the parser ---------------------------------------------------------------------------


def add_settings(parser: argparse.ArgumentParser, *sections) -> None:
    """One flag per setting of each dataclass, and `--config FILE.yaml` for all of them.

    A section is a dataclass, or `(title, dataclass)` for its own group in --help, or
    `(title, dataclass, skipped_field_names)`. Flags have no defaults in the namespace (the
    --help text shows them): `chosen(args)` holds only what the user gave."""
    every = []
    for section in sections:
        if isinstance(section, type):
            title, cls, skip = None, section, ()
        else:
            title, cls, *rest = section
            skip = rest[0] if rest else ()
        container = parser.add_argument_group(title) if title else parser
        exclusive_groups: dict[str, Any] = {}
        for item in settings_of(cls):
            if item.name in skip:
                continue
            group = item.options.get("exclusive")
            if group and group not in exclusive_groups:
                exclusive_groups[group] = container.add_mutually_exclusive_group()
            _add_flag(exclusive_groups[group] if group else container, item)
            every.append(item)
    parser.add_argument(
        "--config", metavar="FILE.yaml", action=ReadConfigFile, settings=every, default=argparse.SUPPRESS,
        help="read settings from a YAML file: `key: value` per line, keys as the flags in snake_case "
        "(num_envs: 8); flags on the command line override the file",
    )  # fmt: skip


def _add_flag(container, item: Setting) -> None:
    common = {"dest": item.key, "default": argparse.SUPPRESS}
    kwargs: dict[str, Any]
    if item.kind is bool:
        kwargs = {"action": argparse.BooleanOptionalAction}
    else:
        metavar = item.options.get("metavar") or METAVARS.get(item.kind)
        kwargs = {"type": item.convert, "choices": item.options.get("choices"), "metavar": metavar}
        if item.many:
            kwargs |= {"action": "append"} if item.options.get("repeat") else {"nargs": "+"}
    container.add_argument(item.flag, help=_help_text(item), **common, **kwargs)
    for alias in item.options.get("aliases", ()):
        container.add_argument(alias, help=argparse.SUPPRESS, **common, **kwargs)


def _help_text(item: Setting) -> str:
    text = item.options["help"]
    default = item.default
    if default is not dataclasses.MISSING and default is not None and default is not False and default != []:
        shown = "on" if default is True else " ".join(map(item.show, default)) if item.many else item.show(default)
        text += f" (default: {shown})"
    return text.replace("%", "%%")  # argparse formats help with %


# --- config files -------------------------------------------------------------------------


@dataclass
class ConfigFile:
    """The settings a --config file gave, read like flags; `rivals`: the other settings of each
    one's exclusive group (a rival typed on the command line overrides it too)."""

    values: dict
    rivals: dict


class ReadConfigFile(argparse.Action):
    """`--config FILE.yaml`: reads the file while parsing, so its mistakes are parse errors."""

    def __init__(self, option_strings, dest, settings, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.settings = {item.key: item for item in settings}

    def __call__(self, parser, namespace, path, option_string=None):
        setattr(namespace, CONFIG_DEST, read_config_file(path, self.settings))


def read_config_file(path: str, settings: dict[str, Setting]) -> ConfigFile:
    import yaml

    where = f"--config {path}"
    if not Path(path).is_file():
        raise UserError(f"{where} does not exist" if not Path(path).exists() else f"{where} is not a file")
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UserError(f"{where} is not valid YAML: {one_line(error)}") from None
    return read_settings({} if data is None else data, settings, where)


def read_settings(data, settings: dict[str, Setting], where: str) -> ConfigFile:
    """Settings given as a YAML mapping (a --config file's, or a section of a larger file such
    as a collection plan's), each value read as its text would be read on the command line.
    `where` starts every message (`plan.yaml: games[1]`)."""
    if not isinstance(data, dict):
        raise UserError(f"{where} must hold `key: value` settings, not a {type(data).__name__}")
    values = {}
    for key, value in data.items():
        item = settings.get(key)
        if item is None:
            close = difflib.get_close_matches(str(key), list(settings), n=1)
            hint = f": did you mean {close[0]}?" if close else ": see --help for the settings (flags in snake_case)"
            raise UserError(f"{where}: unknown setting {key!r}{hint}")
        if value is not None:  # `key:` with no value leaves the default
            values[key] = _file_value(item, value, f"{where}: {key}")
    rivals = {item.key: {other.key for other in settings.values()
                         if other is not item and other.options.get("exclusive") == item.options.get("exclusive")}
              for item in settings.values() if item.options.get("exclusive")}  # fmt: skip
    return ConfigFile(values, rivals)


def _file_value(item: Setting, value, where: str):
    """A value from the file, read exactly as its text would be read on the command line."""
    if item.kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return value
    if item.many:
        return [_one_value(item, part, where) for part in (value if isinstance(value, list) else [value])]
    return _one_value(item, value, where)


def _one_value(item: Setting, value, where: str):
    if isinstance(value, (dict, list)):
        raise UserError(f"{where} must be a single value, got {value!r}")
    text = str(value)
    try:
        result = item.convert(text)
    except (TypeError, ValueError):
        raise UserError(f"{where}: invalid {getattr(item.convert, '__name__', 'value')} value: {text!r}") from None
    choices = item.options.get("choices")
    if choices is not None and result not in choices:
        raise UserError(f"{where}: invalid choice: {result!r} (choose from {', '.join(map(str, choices))})")
    return result


# --- from the parsed arguments to the dataclasses, and back ----------------------------------


def chosen(args: argparse.Namespace) -> dict:
    """Every setting the user gave, by key: the --config file's, overridden by typed flags."""
    typed = {key: value for key, value in vars(args).items() if key != CONFIG_DEST}
    file = getattr(args, CONFIG_DEST, None)
    if file is None:
        return typed
    from_file = {key: value for key, value in file.values.items() if not file.rivals.get(key, set()) & typed.keys()}
    return from_file | typed


def given_fields(cls, chosen_settings: dict) -> dict:
    """field name -> value of the settings of `cls` the user gave (e.g. a preset's overrides)."""
    return {item.name: chosen_settings[item.key] for item in settings_of(cls) if item.key in chosen_settings}


def build(cls, chosen_settings: dict, **extra):
    """`cls` from the settings the user gave; the others take the command's defaults."""
    values = {}
    for item in settings_of(cls):
        if item.key in chosen_settings:
            values[item.name] = chosen_settings[item.key]
        elif item.options.get("required"):
            raise UserError(f"the following arguments are required: {item.flag} (on the command line or in --config)")
        elif "command_default" in item.options:
            values[item.name] = item.default
    return cls(**values, **extra)


def command_line(settings, skip: tuple[str, ...] = ()) -> list[str]:
    """The flags that turn the command's defaults into `settings` (for a printed command)."""
    words = []
    for item in settings_of(type(settings)):  # type: ignore[arg-type]  # a class is hashable; mypy: type[Any] is not Hashable
        value = getattr(settings, item.name)
        if item.name in skip or value == item.default or value is None:
            continue
        if item.kind is bool:
            words.append(item.flag if value else "--no-" + item.flag[2:])
        elif item.many and item.options.get("repeat"):
            for part in value:
                words += [item.flag, item.show(part)]
        elif item.many:
            words += [item.flag, *map(item.show, value)]
        else:
            words += [item.flag, item.show(value)]
    return words
