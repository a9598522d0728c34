"""Which games an AMN learns, from which stores: checked once, described once.

The config names games and their teacher stores:

    games:
      - {game: pong, stores: [pong-0.zarr, pong-1.zarr]}
      - {game: breakout, stores: [breakout-0.zarr]}

`describe_tasks` reads only the stores' attribute documents (not their data) and returns the
`Tasks` the model is built from and the exported AMN records:

    games          one GameTask per game, in config order (game_id i in a batch is games[i]):
                   its ROM id, the expert's ALE action ids, hidden size and hidden layer, what
                   its teacher's stored outputs are (`q_values` or `logits`) and the Atari
                   settings in which its first store differs from `atari` (a teacher trained
                   under another protocol: FIRE presses)
    atari          the Atari settings (without the game) of the first store
    preprocessing  the observation form every store shares
    stores         one StoreRecord per store (path, game, expert sha256, behaviour, round, ...)

A Lightning checkpoint keeps them as the plain dict of `Tasks.to_dict` (its hyperparameter
`tasks`); `Tasks.from_dict` reads that form back, from checkpoints of every version.

Every mismatch a user can make raises a one-line UserError naming the store and the fix.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from actor_mimic.common.atari import AtariConfig, action_set, canonical_game, preprocessing_differences
from actor_mimic.errors import UserError
from actor_mimic.store import location, open_store, store_digest, teacher_outputs


@dataclass
class GameStores:
    """One game of the mixture and the teacher stores that hold its data."""

    game: str
    stores: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GameTask:
    """One game the AMN learns, as its expert defines it."""

    game: str  # ROM id, e.g. "pong"
    action_set: list[int]  # (A_i,) the expert's ALE action ids
    hidden_size: int  # H_i: width of the expert's hidden layer, the feature-regression target
    hidden_layer: str  # the expert layer the stored activations come from ("fc", "conv")
    outputs: str = "q_values"  # what the teacher's stored outputs are: "q_values" or "logits"
    atari: dict = field(default_factory=dict)  # its Atari settings that differ from Tasks.atari


@dataclass(frozen=True)
class StoreRecord:
    """Where one teacher store's data came from (recorded in the exported AMN's provenance)."""

    path: str
    game: str
    expert_sha256: str | None  # the expert that labelled it
    behaviour: dict | None = None  # who acted; None: the expert itself
    round: str | None = None  # the student-acts round that collected it
    num_steps: int | None = None
    num_episodes: int | None = None
    created: str | None = None
    digest: str | None = None  # the store's content digest (sha256:...): exactly which data it was


@dataclass
class Tasks:
    """The games of one AMN and the stores that teach them."""

    games: list[GameTask]
    atari: dict = field(default_factory=dict)
    preprocessing: dict = field(default_factory=dict)
    stores: list[StoreRecord] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The games' ROM ids, in order."""
        return [task.game for task in self.games]

    def task(self, game: str) -> GameTask:
        return next(task for task in self.games if task.game == game)

    def stores_of(self, game: str) -> list[StoreRecord]:
        return [store for store in self.stores if store.game == game]

    def to_dict(self) -> dict:
        """The plain, JSON-able form a checkpoint keeps (the form of every version so far):
        {"games": [names], "action_sets": {game: ids}, "hidden_sizes": {game: H},
        "hidden_layer": {game: layer}, "atari": {...}, "preprocessing": {...}, "stores": [...]},
        plus "outputs": {game: kind} when a teacher gives logits and "atari_by_game": {game: {...}}
        when a game's settings differ (left out otherwise, so earlier versions read the rest)."""
        document = {
            "games": self.names,
            "action_sets": {task.game: list(task.action_set) for task in self.games},
            "hidden_sizes": {task.game: task.hidden_size for task in self.games},
            "hidden_layer": {task.game: task.hidden_layer for task in self.games},
            "atari": dict(self.atari),
            "preprocessing": dict(self.preprocessing),
            "stores": [_store_dict(store) for store in self.stores],
        }
        if any(task.outputs != "q_values" for task in self.games):
            document["outputs"] = {task.game: task.outputs for task in self.games}
        if any(task.atari for task in self.games):
            document["atari_by_game"] = {task.game: dict(task.atari) for task in self.games if task.atari}
        return document

    @classmethod
    def from_dict(cls, document: dict) -> Tasks:
        """Read `to_dict`'s form. Raises KeyError/TypeError/ValueError if it is not that form;
        keys a checkpoint may lack (hidden_layer, outputs, atari_by_game, atari, preprocessing,
        stores) get defaults."""
        if not isinstance(document, dict) or not isinstance(document.get("games"), list) or not document["games"]:
            raise ValueError("tasks must name the games")
        layers = document.get("hidden_layer") or {}
        outputs = document.get("outputs") or {}
        atari_by_game = document.get("atari_by_game") or {}
        games = [
            GameTask(
                game=str(game),
                action_set=[int(action) for action in document["action_sets"][game]],
                hidden_size=int(document["hidden_sizes"][game]),
                hidden_layer=str(layers.get(game, "fc")),
                outputs=str(outputs.get(game, "q_values")),
                atari=dict(atari_by_game.get(game) or {}),
            )
            for game in document["games"]
        ]
        known = {f.name for f in dataclasses.fields(StoreRecord)}
        stores = [
            StoreRecord(**{k: v for k, v in record.items() if k in known}) for record in document.get("stores") or []
        ]
        return cls(games, dict(document.get("atari") or {}), dict(document.get("preprocessing") or {}), stores)


def _store_dict(store: StoreRecord) -> dict:
    """A StoreRecord's plain form; a store read before digests existed keeps its old form."""
    record = dataclasses.asdict(store)
    if record["digest"] is None:
        del record["digest"]
    return record


def describe_tasks(games: list[GameStores], allow_incomplete: bool = False) -> Tasks:
    """Check the configured games and their stores against each other; describe them."""
    if not games:
        raise UserError("no games configured: give data.games as a list of {game: NAME, stores: [PATHS]}")
    games = [_as_game_stores(entry) for entry in games]
    names = [canonical_game(entry.game) for entry in games]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"game {duplicates[0]} is listed twice: give each game once with all its stores")

    tasks = Tasks(games=[])
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
    with open_store(path, allow_incomplete=allow_incomplete) as (backend, info):
        digest = store_digest(backend, info.attrs) if info.attrs["schema_version"] >= 2 else None
    if info.num_steps == 0:
        raise UserError(f"teacher store {path} holds no complete episode: collect more steps into it")
    return {
        **info.attrs,
        "num_committed_steps": info.num_steps,
        "num_committed_episodes": info.num_episodes,
        "store_digest": digest,
    }


def _check_store(tasks: Tasks, game: str, path: str, attrs: dict) -> None:
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
    if not tasks.stores:  # the first store sets the observation form and Atari settings
        tasks.preprocessing = attrs["preprocessing"]
        tasks.atari = {k: v for k, v in attrs["atari"].items() if k != "game"}
    elif attrs["preprocessing"] != tasks.preprocessing:
        raise UserError(
            f"store {path}: its preprocessing differs from the first store's "
            f"({preprocessing_differences(tasks.preprocessing, attrs['preprocessing'])}); "
            "stores of one AMN must share it"
        )
    expert = attrs.get("expert", {})
    hidden_layer = expert.get("hidden_layer", "fc")
    outputs = teacher_outputs(attrs)
    known = next((task for task in tasks.games if task.game == game), None)
    if known is None:
        shared = AtariConfig.from_dict({**tasks.atari, "game": game}).to_dict()
        own = {k: v for k, v in atari.to_dict().items() if k != "game" and shared[k] != v}
        tasks.games.append(GameTask(game, expected_actions, int(attrs["hidden_size"]), hidden_layer, outputs, own))
    elif outputs != known.outputs:
        raise UserError(
            f"store {path}: its teacher's outputs are {outputs}, {game}'s other stores' {known.outputs}; "
            "label all of a game's stores with the same expert"
        )
    elif list(attrs["action_set"]) != known.action_set:
        raise UserError(
            f"store {path}: its action set {attrs['action_set']} differs from {game}'s other stores' {known.action_set}"
        )
    elif int(attrs["hidden_size"]) != known.hidden_size or hidden_layer != known.hidden_layer:
        raise UserError(
            f"store {path}: its expert hidden layer ({hidden_layer}, {attrs['hidden_size']} units) differs "
            f"from {game}'s other stores; label all of a game's stores with the same expert"
        )
    behaviour = attrs.get("behaviour", {})
    tasks.stores.append(
        StoreRecord(
            path=str(location(path)),
            game=game,
            expert_sha256=expert.get("sha256") or expert.get("weights_sha256"),
            behaviour=behaviour.get("policy"),
            round=behaviour.get("round"),
            num_steps=attrs["num_committed_steps"],
            num_episodes=attrs["num_committed_episodes"],
            created=attrs.get("created"),
            digest=attrs["store_digest"],
        )
    )
