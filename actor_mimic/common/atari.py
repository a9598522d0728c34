"""One definition of the Atari environment, shared by collection, evaluation and DQN training.

Every stage must see identical observations, so the preprocessing is fixed here once:

- ALE v5 games through gymnasium + ale-py, sticky actions off by default (configurable);
- frame skip 4, the observation is the max over the last two emulator frames of each skip;
- 84x84 grayscale (ale-py's luminance, area-resized);
- a stack of the 4 newest frames, oldest first, **zero-padded** at an episode's start;
- up to 30 no-op actions after each reset;
- full games: a lost life is not a terminal; rewards are raw (clip them only for learning);
- no FIRE press at reset or after a lost life, unless `fire_on_reset` / `fire_on_life_loss`
  ask for one (the protocol SB3's and CleanRL's agents were trained under: fire.py).

Two paths give these observations. `make_env` builds the single-env gymnasium wrapper stack
(readable, the reference); `make_vector_env` builds ale-py's C++ vector env (about 2x faster
here). With no-op starts off they produce byte-identical stacks for the same actions, across
episode boundaries (tests/common/test_atari.py). With no-op starts on, the *number* of no-ops
drawn after each reset differs, because the C++ env draws it from its own random generator;
each path is still deterministic given its seed.

Action sets: the AMN has one output over all 18 ALE actions, while a game's expert acts over
the game's *minimal* action set. `action_set(config)` gives that set as ALE action ids, in the
order of the expert's outputs; index i of an expert's output is ALE action `action_set[i]`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from dataclasses import dataclass

import numpy as np

from actor_mimic.common.fire import FirePresses, VectorFirePresses, fire_index
from actor_mimic.common.limits import check_field_types, check_real, check_whole
from actor_mimic.common.settings import setting
from actor_mimic.errors import UserError

NUM_ALE_ACTIONS = 18
ALE_ACTION_NAMES = (
    "NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
    "DOWNLEFT", "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE",
    "DOWNRIGHTFIRE", "DOWNLEFTFIRE",
)  # fmt: skip


@dataclass(frozen=True)
class AtariConfig:
    """The environment every stage plays. Stored with every dataset and checkpoint.

    `game` is ale-py's ROM id (`"breakout"`, `"space_invaders"`); `canonical_game` turns the
    names people type (`Breakout`, `ALE/SpaceInvaders-v5`, `PongNoFrameskip-v4`) into it.
    """

    game: str
    frame_skip: int = 4
    screen_size: int = 84
    stack_size: int = 4
    # Dynamics: flags of the DQN commands (`setting`, common/settings.py). The fields above
    # decide the observations' form and are not flags: every stage must see the same form.
    noop_max: int = setting(30, "no-op actions after each reset")
    repeat_action_probability: float = setting(
        0.0, "sticky actions: ALE's repeat_action_probability", flag="--sticky-actions"
    )
    max_episode_frames: int = setting(108_000, "emulator frames before an episode is cut")
    full_action_space: bool = False
    fire_on_reset: bool = setting(
        False, "press FIRE at the first step of every episode, in games that have FIRE (SB3's and CleanRL's protocol)"
    )
    fire_on_life_loss: bool = setting(
        False, "press FIRE at the step after a life is lost, in games that have FIRE (SB3's and CleanRL's protocol)"
    )

    def __post_init__(self) -> None:
        if not isinstance(self.game, str):
            raise UserError(f"the game must be a name, got {self.game!r}")
        object.__setattr__(self, "game", canonical_game(self.game))
        check_field_types(self)
        check_whole(self.frame_skip, "frame_skip", 1, 64)
        check_whole(self.screen_size, "screen_size", 8, 256)
        check_whole(self.stack_size, "stack_size", 1, 16)
        check_whole(self.noop_max, "noop_max", 0, 10_000)
        check_whole(self.max_episode_frames, "max_episode_frames", 1, 10**8)
        check_real(self.repeat_action_probability, "repeat_action_probability", 0.0, 1.0, high_open=True)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        """(stack_size, screen_size, screen_size): what the networks take."""
        return (self.stack_size, self.screen_size, self.screen_size)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AtariConfig:
        return settings_from_dict(cls, data, "Atari settings")

    def preprocessing(self) -> dict:
        """What decides the *form* of an observation. Networks, stores and checkpoints whose
        preprocessing differs cannot be mixed; dynamics settings (no-ops, sticky actions) can."""
        return {
            "frame_skip": self.frame_skip,
            "screen_size": self.screen_size,
            "stack_size": self.stack_size,
            "grayscale": True,
            "maxpool_last_two": True,
            "stack_padding": "zeros",
        }


def preprocessing_differences(expected: dict, found: dict) -> str:
    """The settings in which two preprocessing documents differ, for messages ("frame_skip 4
    vs 3, screen_size 84 vs 64"); empty when they agree. Every stage that refuses to combine
    observations of different forms (stores, checkpoints, environments) says it this way."""
    keys = [key for key in dict.fromkeys([*expected, *found]) if expected.get(key) != found.get(key)]
    return ", ".join(f"{key} {expected.get(key)!r} vs {found.get(key)!r}" for key in keys)


def _quiet_ale():
    """ale-py, with its start-up banner and per-ROM log lines silenced (errors still show)."""
    import ale_py

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    return ale_py


def settings_from_dict(cls, data: dict, what: str):
    """A settings dataclass from a dict read back from a file (a store, a checkpoint, a run).

    Unknown keys mean the file was written by a newer actor-mimic: refuse rather than drop
    them, since silently ignoring a setting would give a silently different environment."""
    if not isinstance(data, dict):
        raise UserError(f"the {what} must be a JSON object of settings, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(
            f"unknown {what} {unknown}: this file was written by a newer actor-mimic; upgrade actor-mimic to read it"
        )
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]  # fmt: skip
    missing = [name for name in required if name not in data]
    if missing:
        raise UserError(f"the {what} lack {missing}: the file is damaged or was edited by hand")
    return cls(**data)


def all_games() -> list[str]:
    """Every game ale-py ships a ROM for, as ROM ids."""
    return sorted(_quiet_ale().roms.get_all_rom_ids())


def canonical_game(name: str) -> str:
    """`Breakout`, `ALE/Breakout-v5`, `BreakoutNoFrameskip-v4`, `space invaders` -> ROM id.

    Raises UserError, with the nearest names, for a game ale-py does not ship.
    """
    if not isinstance(name, str):
        raise UserError(f"a game must be a name, got {name!r}")
    text = name.strip()
    text = re.sub(r"^ALE/", "", text)
    text = re.sub(r"(NoFrameskip|Deterministic)?-v\d+$", "", text)
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)  # CamelCase -> snake_case
    text = re.sub(r"[\s\-]+", "_", text).lower()
    games = all_games()
    if text in games:
        return text
    close = difflib.get_close_matches(text, games, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "see `amn collect --list-games`"
    raise UserError(f"unknown Atari game {name!r}: {hint}")


def display_name(game: str) -> str:
    """`space_invaders` -> `SpaceInvaders`, the spelling of gymnasium's env ids."""
    return "".join(part.capitalize() for part in canonical_game(game).split("_"))


@functools.cache
def _minimal_action_set(game: str) -> tuple[int, ...]:
    ale_py = _quiet_ale()
    ale = ale_py.ALEInterface()
    ale.loadROM(ale_py.roms.get_rom_path(game))
    return tuple(int(a.value) for a in ale.getMinimalActionSet())


def action_set(config: AtariConfig) -> tuple[int, ...]:
    """The ALE action ids of the game's actions, in the order of an expert's outputs."""
    if config.full_action_space:
        return tuple(range(NUM_ALE_ACTIONS))
    return _minimal_action_set(config.game)


def action_mask(actions: tuple[int, ...] | list[int]) -> np.ndarray:
    """bool (18,): True for the ALE actions in `actions`."""
    mask = np.zeros(NUM_ALE_ACTIONS, dtype=bool)
    mask[list(actions)] = True
    return mask


def make_env(config: AtariConfig, render_mode: str | None = None):
    """The single-env path: gymnasium's ALE v5 env with the shared preprocessing.

    Observations are uint8 (stack_size, screen_size, screen_size), oldest frame first.
    Seed it through `env.reset(seed=...)`; `info["lives"]` carries the lives counter.
    """
    import gymnasium as gym
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    gym.register_envs(_quiet_ale())
    env = gym.make(
        f"ALE/{display_name(config.game)}-v5",
        frameskip=1,  # AtariPreprocessing skips frames, with the max-pool
        repeat_action_probability=config.repeat_action_probability,
        full_action_space=config.full_action_space,
        max_num_frames_per_episode=config.max_episode_frames,
        render_mode=render_mode,
    )
    env = AtariPreprocessing(
        env,
        noop_max=config.noop_max,
        frame_skip=config.frame_skip,
        screen_size=config.screen_size,
        terminal_on_life_loss=False,
        grayscale_obs=True,
    )
    padding = np.zeros((config.screen_size, config.screen_size), dtype=np.uint8)
    env = FrameStackObservation(env, config.stack_size, padding_type=padding)
    fire = fire_index(config)
    return env if fire is None else FirePresses(env, config, fire)


def make_vector_env(config: AtariConfig, num_envs: int, num_threads: int = 0):
    """The fast path: ale-py's C++ vector env with the same preprocessing as `make_env`.

    Autoreset is gymnasium's NEXT_STEP mode: the step after a terminal/truncated step resets
    that env (its action is ignored) and returns the first observation of the new episode.
    Seed it through `venv.reset(seed=...)`. With FIRE presses (fire.py) it is wrapped in
    `VectorFirePresses`, whose `actions(chosen)` gives the actions the envs will play.
    """
    _quiet_ale()
    from ale_py.vector_env import AtariVectorEnv

    venv = AtariVectorEnv(
        config.game,
        num_envs,
        num_threads=num_threads,
        max_num_frames_per_episode=config.max_episode_frames,
        repeat_action_probability=config.repeat_action_probability,
        full_action_space=config.full_action_space,
        img_height=config.screen_size,
        img_width=config.screen_size,
        grayscale=True,
        stack_num=config.stack_size,
        frameskip=config.frame_skip,
        maxpool=True,
        noop_max=config.noop_max,
        episodic_life=False,
        reward_clipping=False,
        use_fire_reset=False,  # FIRE presses are fire.py's, the same on both paths
    )
    fire = fire_index(config)
    return venv if fire is None else VectorFirePresses(venv, config, fire)
