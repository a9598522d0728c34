"""Which library versions ran: recorded in stores and checkpoints, so a result can be traced
to (and a resumed run checked against) the code that made it."""

from __future__ import annotations

from importlib import metadata as importlib_metadata


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution ("ale-py", "torch"), None when not installed."""
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def library_versions(packages: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """{import name: installed version} for import names like "ale_py" or "actor_mimic"."""
    return {package: installed_version(package.replace("_", "-")) for package in packages}
