"""Sane limits for numbers users give, checked before anything is allocated or started.

One rule per kind of number, used by every command and every settings dataclass, so a typo
(`--chunk-len 10**9`, `--num-envs 10000`, `--seed -1`) is a one-line `UserError` instead of
terabytes allocated, minutes spent creating environments, or a traceback deep in a library:

- whole numbers are ints (not bools, not floats) within a stated range: `check_whole`;
- real numbers are finite (no NaN, no infinity) within a stated range: `check_real`;
- step and episode counts lie in 1..MAX_STEPS (10**12);
- seeds lie in 0..MAX_SEED: ale-py seeds environment i of a vector env with seed + i in a
  32-bit signed int, and Lightning's seed_everything takes 0..2**32-1; 2**30 leaves room;
- parallel environments: at most MAX_NUM_ENVS per process;
- worker processes and threads: at most `max_workers()` (4 per CPU core, at least 32);
- anything sized by a flag (a replay memory, a chunk buffer, a batch) must fit in the memory
  available now: `check_memory`, with the bytes computed from the flags, before allocating.
"""

from __future__ import annotations

import math
import os

from actor_mimic.errors import UserError

MAX_SEED = 2**30 - 1
MAX_STEPS = 10**12  # agent steps or episodes asked of any command: years of play, not an overflow
MAX_NUM_ENVS = 256
GIB = 1 << 30


def max_workers() -> int:
    """Most worker processes or threads a command may start."""
    return max(32, 4 * (os.cpu_count() or 1))


def check_whole(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int in [low, high]; `name` is what the user typed (a flag or a key)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name} must be a whole number, got {value!r}")
    if low is not None and value < low:
        bound = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise UserError(f"{name} must be {bound}, got {value}")
    if high is not None and value > high:
        bound = f"between {low} and {high}" if low is not None else f"at most {high}"
        raise UserError(f"{name} must be {bound}, got {value}")
    return value


def check_real(value, name: str, low: float | None = None, high: float | None = None, high_open: bool = False) -> float:
    """`value` as a finite float in [low, high] (or [low, high) when `high_open`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {value}")
    too_low = low is not None and value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        if high is None:
            raise UserError(f"{name} must be {low:g} or more, got {value:g}")
        if low is None:
            raise UserError(f"{name} must be {'below' if high_open else 'at most'} {high:g}, got {value:g}")
        raise UserError(f"{name} must lie in [{low:g}, {high:g}{')' if high_open else ']'}, got {value:g}")
    return float(value)


def check_steps(value, name: str) -> int:
    return check_whole(value, name, 1, MAX_STEPS)


def check_seed(value, name: str = "--seed") -> int:
    return check_whole(value, name, 0, MAX_SEED)


def check_num_envs(value, name: str = "--num-envs") -> int:
    return check_whole(value, name, 1, MAX_NUM_ENVS)


def check_workers(value, name: str, low: int = 0) -> int:
    return check_whole(value, name, low, max_workers())


def available_memory() -> int:
    """Bytes of memory the system can give a new allocation now (Linux: MemAvailable)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_memory(num_bytes: int, what: str, fix: str) -> None:
    """Refuse to allocate `num_bytes` for `what` when the machine does not have them now.

    `what` names the allocation and the flags it comes from ("the replay memory of
    --replay-capacity 10000000000"), `fix` says what to change."""
    available = available_memory()
    if num_bytes > available:
        raise UserError(
            f"{what} needs {format_bytes(num_bytes)} of memory, but {format_bytes(available)} are available: {fix}"
        )


def format_bytes(num_bytes: float) -> str:
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


def check_field_types(settings, name_of=lambda field: field) -> None:
    """Every field of a settings dataclass holds a value of its annotated type.

    Settings come back from files that people can edit (stores, checkpoints, run states), so
    the annotations are enforced: `int` takes ints (not bools), `float` takes finite ints or
    floats (stored as float), `bool` only bools, `str` only strings, `X | None` also None.
    `name_of(field)` is how messages name a field (the flag users type)."""
    import dataclasses

    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        annotation = str(field.type).replace(" ", "")
        optional = annotation.endswith("|None")
        kind = annotation.removesuffix("|None")
        if value is None and optional:
            continue
        name = name_of(field.name)
        if kind == "int":
            check_whole(value, name)
        elif kind == "float":
            object.__setattr__(settings, field.name, check_real(value, name))
        elif kind == "bool" and not isinstance(value, bool):
            raise UserError(f"{name} must be true or false, got {value!r}")
        elif kind == "str" and not isinstance(value, str):
            raise UserError(f"{name} must be a string, got {value!r}")


def check_device(text, name: str = "--device"):
    """A torch device this machine has: `cpu`, `cuda`, `cuda:N` or `mps`."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise UserError(f"{name} {text!r} is not a device: use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            have = f"{count} CUDA device(s)" if count else "no CUDA device (or a torch built without CUDA)"
            raise UserError(f"{name} {text}: this machine has {have}; use --device cpu")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"{name} mps: not available on this machine; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"{name} {text!r}: only cpu, cuda and mps devices are supported")
    return device
