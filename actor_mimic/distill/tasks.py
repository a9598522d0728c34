"""Which games an AMN learns, from which stores: checked once, described once.

The config names games and their teacher stores:

    games:
      - {game: pong, stores: [pong-0.zarr, pong-1.zarr]}
      - {game: breakout, stores: [breakout-0.zarr]}

`describe_tasks` reads only the stores' attribute documents (not their data) and returns a plain
JSON-able dict that the model is built from and that the exported AMN records:

    games          ROM ids, in config order (game_id i in a batch is games[i])
    action_sets    game -> the expert's ALE action ids
    hidden_sizes   game -> the expert's hidden size (feature-regression target width)
    hidden_layer   game -> the expert layer the hidden activations come from
    atari          the Atari settings (without the game) of the first store
    preprocessing  the observation form every store shares
    stores         one provenance record per store (path, game, expert sha256, behaviour, round, ...)

Every mismatch a user can make raises a one-line UserError naming the store and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actor_mimic.common.atari import AtariConfig, action_set, canonical_game, preprocessing_differences
from actor_mimic.common.store import open_store
from actor_mimic.common.store_location import location
from actor_mimic.errors import UserError


@dataclass
class GameStores:
    """One game of the mixture and the teacher stores that hold its data."""

    game: str
    stores: list[str] = field(default_factory=list)


def describe_tasks(games: list[GameStores], allow_incomplete: bool = False) -> dict:
    """Check the configured games and their stores against each other; describe them."""
    if not games:
        raise UserError("no games configured: give data.games as a list of {game: NAME, stores: [PATHS]}")
    games = [_as_game_stores(entry) for entry in games]
    names = [canonical_game(entry.game) for entry in games]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"game {duplicates[0]} is listed twice: give each game once with all its stores")

    tasks: dict = {"games": names, "action_sets": {}, "hidden_sizes": {}, "hidden_layer": {}, "stores": []}
    for name, entry in zip(names, games):
        if not entry.stores:
            raise UserError(f"game {name} has no teacher store: give its stores, e.g. stores: [{name}.zarr]")
        for path in entry.stores:
            attrs = _read_attrs(path, allow_incomplete)
            _check_store(tasks, name, path, attrs)
    return tasks


def _as_game_stores(entry) -> GameStores:
    if isinstance(entry, GameStores):
        return entry
    if isinstance(entry, dict) and set(entry) <= {"game", "stores"} and "game" in entry:
        stores = entry.get("stores") or []
        return GameStores(entry["game"], [stores] if isinstance(stores, str) else list(stores))
    raise UserError(f"each entry of data.games must be {{game: NAME, stores: [PATHS]}}, got {entry!r}")


def _read_attrs(path: str, allow_incomplete: bool) -> dict:
    backend, info = open_store(path, allow_incomplete=allow_incomplete)
    backend.close()
    if info.num_steps == 0:
        raise UserError(f"teacher store {path} holds no complete episode: collect more steps into it")
    return {**info.attrs, "num_committed_steps": info.num_steps, "num_committed_episodes": info.num_episodes}


def _check_store(tasks: dict, game: str, path: str, attrs: dict) -> None:
    """Fold one store into `tasks`, refusing any disagreement with the config or earlier stores."""
    if attrs["game"] != game:
        raise UserError(f"store {path} holds {attrs['game']}, not {game}: list it under game {attrs['game']}")
    atari = AtariConfig.from_dict(attrs["atari"])
    expected_actions = list(action_set(atari))
    if list(attrs["action_set"]) != expected_actions:
        raise UserError(
            f"store {path}: its action set {attrs['action_set']} is not {game}'s {expected_actions} "
            "under its Atari settings; recollect it with this actor-mimic"
        )
    if "preprocessing" not in tasks:
        tasks["preprocessing"] = attrs["preprocessing"]
        tasks["atari"] = {k: v for k, v in attrs["atari"].items() if k != "game"}
    elif attrs["preprocessing"] != tasks["preprocessing"]:
        raise UserError(
            f"store {path}: its preprocessing differs from the first store's "
            f"({preprocessing_differences(tasks['preprocessing'], attrs['preprocessing'])}); stores of one AMN must share it"
        )
    hidden_layer = attrs.get("expert", {}).get("hidden_layer", "fc")
    known = tasks["action_sets"].get(game)
    if known is None:
        tasks["action_sets"][game] = expected_actions
        tasks["hidden_sizes"][game] = int(attrs["hidden_size"])
        tasks["hidden_layer"][game] = hidden_layer
    elif list(attrs["action_set"]) != known:
        raise UserError(f"store {path}: its action set {attrs['action_set']} differs from {game}'s other stores' {known}")
    elif int(attrs["hidden_size"]) != tasks["hidden_sizes"][game] or hidden_layer != tasks["hidden_layer"][game]:
        raise UserError(
            f"store {path}: its expert hidden layer ({hidden_layer}, {attrs['hidden_size']} units) differs "
            f"from {game}'s other stores; label all of a game's stores with the same expert"
        )
    expert = attrs.get("expert", {})
    behaviour = attrs.get("behaviour", {})
    tasks["stores"].append(
        {
            "path": str(location(path)),
            "game": game,
            "expert_sha256": expert.get("sha256") or expert.get("weights_sha256"),
            "behaviour": behaviour.get("policy"),
            "round": behaviour.get("round"),
            "num_steps": attrs["num_committed_steps"],
            "num_episodes": attrs["num_committed_episodes"],
            "created": attrs.get("created"),
        }
    )
