"""Nothing imports upward: the folders show the data flow.

    errors < common < store < collect, datasets < distill, transfer < pipelines < cli

A package imports only from packages on a lower layer (never a sibling on its own layer):
the store knows nothing of collection or training, the stages nothing of the pipelines above
them, and only actor_mimic.cli dispatches to everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "actor_mimic"
LAYERS = {
    "errors": 0, "__init__": 0, "common": 1, "store": 2, "collect": 3, "datasets": 3,
    "distill": 4, "transfer": 4, "pipelines": 5, "cli": 6, "__main__": 7,
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def package_of(path: Path) -> str:
    part = path.relative_to(PACKAGE).parts[0]
    return part.removesuffix(".py")


def test_every_package_has_a_layer():
    assert {package_of(path) for path in PACKAGE.rglob("*.py")} <= set(LAYERS)


def test_nothing_imports_upward_or_sideways():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        source = package_of(path)
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[0] != "actor_mimic" or len(parts) < 2 or parts[1] not in LAYERS or parts[1] == source:
                continue
            if LAYERS[parts[1]] >= LAYERS[source]:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_the_store_is_used_through_its_package():
    """Above the store, code imports `actor_mimic.store`, not its modules: one surface."""
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in PACKAGE.rglob("*.py")
        if package_of(path) != "store"
        for name in imported_modules(path)
        if name.startswith("actor_mimic.store.") and name.count(".") == 2
        and name.split(".")[2] not in __import__("actor_mimic.store").store.__all__
    ]  # fmt: skip
    assert offenders == []
