"""Whether a store's document means something this toolkit can reproduce.

schema.py checks the document's *form* (types, ranges, counts that agree with each other).
This checks its *meaning* against the installed ALE and the toolkit's environment: a document
can be well formed and still describe data nobody could have collected, and then every number
read through it is wrong in silence (a reordered action set relabels every Q-value). So, for
the store's game and Atari settings:

- the game is one the installed ALE ships;
- the Atari settings are settings of this toolkit (`AtariConfig`), for the same game;
- the action set is that game's minimal action set (or the full one, if the settings say so),
  in ALE order: index i of every Q-value row is ALE action `action_set[i]`;
- the preprocessing is the one those settings give (what the environment reproduces);
- the expert's recorded action set and hidden size, where recorded, are the store's.

Each problem is one line naming the field. Every reader runs this on open (reader.py) and
`amn dataset verify` lists every problem it finds.
"""

from __future__ import annotations

import functools

from actor_mimic.common.atari import AtariConfig, action_set, all_games, preprocessing_differences
from actor_mimic.errors import UserError

FIELD_HINT = "the store's metadata was edited or damaged: re-download or recollect it"


@functools.cache
def _shipped_games() -> frozenset[str]:
    return frozenset(all_games())


def meaning_problems(attrs: dict) -> list[str]:
    """One line per field of a form-checked document (schema.checked_attrs) whose meaning is
    wrong; empty when the document describes data this toolkit can reproduce."""
    game = attrs["game"]
    if game not in _shipped_games():
        return [f"store attribute 'game' is {game!r}, a game the installed ALE does not ship"]
    atari_settings = attrs.get("atari")
    if atari_settings is None:  # the oldest stores: the game alone, with the default settings
        atari_settings = {"game": game}
    if atari_settings.get("game", game) != game:
        return [f"store attribute 'atari' plays {atari_settings.get('game')!r}, but 'game' is {game!r}"]
    try:
        atari = AtariConfig.from_dict({**atari_settings, "game": game})
    except UserError as error:
        return [f"store attribute 'atari' is not a set of Atari settings this actor-mimic knows ({error})"]
    problems = []
    expected_actions = list(action_set(atari))
    if list(attrs["action_set"]) != expected_actions:
        space = "full" if atari.full_action_space else "minimal"
        problems.append(
            f"store attribute 'action_set' is {list(attrs['action_set'])}, not {game}'s {space} action set "
            f"{expected_actions} in ALE order"
        )
    if "preprocessing" in attrs and attrs["preprocessing"] != atari.preprocessing():
        differences = preprocessing_differences(atari.preprocessing(), attrs["preprocessing"])
        problems.append(
            f"store attribute 'preprocessing' is not what its Atari settings give ({differences}): "
            "this actor-mimic cannot reproduce its observations"
        )
    expert = attrs.get("expert") or {}
    metadata = expert.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    action_sets = metadata.get("action_sets")
    recorded = action_sets.get(game) if isinstance(action_sets, dict) else None
    if (
        not problems
        and metadata.get("kind") == "expert"
        and recorded is not None
        and list(recorded) != expected_actions
    ):
        problems.append(
            f"store attribute 'action_set' {list(attrs['action_set'])} is not its expert's {list(recorded)}"
        )
    return problems
