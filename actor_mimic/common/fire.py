"""FIRE at the start of an episode and after a lost life: the protocol of SB3's and CleanRL's agents.

Stable-Baselines3 and CleanRL train their Atari agents under the Atari wrappers (`AtariWrapper`,
`FireResetEnv`, `EpisodicLifeEnv`): in a game that has a FIRE action, FIRE is pressed when an
episode starts and, since a lost life ends their training episode, again after every life lost.
Such an agent may never have learnt to press FIRE itself: in Breakout it then waits forever
after its first lost ball. The two settings of `AtariConfig` reproduce that part of their
protocol in this toolkit's full-game environment:

    fire_on_reset      the first agent step of every episode plays FIRE
    fire_on_life_loss  the agent step after a step that lost a life (and did not end the
                       episode) plays FIRE

The pressed FIRE takes the place of the policy's action at that step; it is an ordinary agent
step (four frames, observed, rewarded). Games without a FIRE action ignore both settings.

Two wrappers, one per environment path of `atari.py`, apply the same rule:
- `VectorFirePresses` wraps ale-py's C++ vector env (`make_vector_env`); its `actions(chosen)`
  says which actions the envs will play, so a recorder stores what was played;
- `FirePresses` wraps the single gymnasium env (`make_env`).
"""

from __future__ import annotations

import numpy as np

FIRE = 1  # ALE's id of the FIRE action


def fire_index(config) -> int | None:
    """The index of FIRE in the game's action set, or None when no FIRE press is due: the
    game has no FIRE action, or neither setting asks for one."""
    from actor_mimic.common.atari import action_set

    if not (config.fire_on_reset or config.fire_on_life_loss):
        return None
    actions = list(action_set(config))
    return actions.index(FIRE) if FIRE in actions else None


class VectorFirePresses:
    """ale-py's vector env, with FIRE pressed as `config` asks (see the module docstring).

    Same interface as the env it wraps (reset, step, send, recv, close; every other attribute
    is the wrapped env's). The wrapped env autoresets in gymnasium's NEXT_STEP mode: the step
    after an ended episode is a reset, so the step after *that* is the new episode's first.
    """

    def __init__(self, venv, config, fire: int):
        self.venv = venv
        self.fire = fire
        self.on_reset = bool(config.fire_on_reset)
        self.on_life_loss = bool(config.fire_on_life_loss)
        self.due = np.zeros(venv.num_envs, dtype=bool)  # the next step of this env plays FIRE
        self.lives = np.zeros(venv.num_envs, dtype=np.int64)
        self.ended = np.zeros(venv.num_envs, dtype=bool)  # its last step ended the episode

    def __getattr__(self, name):
        return getattr(self.venv, name)

    def reset(self, seed=None, options=None):
        obs, info = self.venv.reset(seed=seed, options=options)
        mask = (options or {}).get("reset_mask")
        mask = np.ones(len(self.due), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        self.due[mask] = self.on_reset
        self.lives[mask] = np.asarray(info["lives"])[mask]
        self.ended[mask] = False
        return obs, info

    def actions(self, chosen: np.ndarray) -> np.ndarray:
        """(N,): the actions the envs will play at the next step: `chosen`, with FIRE where due."""
        chosen = np.asarray(chosen)
        return np.where(self.due, np.asarray(self.fire, dtype=chosen.dtype), chosen)

    def press(self, chosen: np.ndarray) -> np.ndarray:
        """The actions to send for the next step (`actions(chosen)`); the presses due are used up.
        For a caller that sends them itself (collect/envs.py sends one lane's step to ale-py)."""
        played = self.actions(chosen)
        self.due[:] = False
        return played

    def send(self, actions: np.ndarray) -> None:
        self.venv.send(self.press(actions))

    def recv(self):
        obs, rewards, terminated, truncated, info = self.venv.recv()
        lives = np.asarray(info["lives"], dtype=np.int64)
        started = self.ended  # this step was an autoreset: the next one is an episode's first
        ended = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        lost = (lives < self.lives) & ~started & ~ended
        self.due = (started & self.on_reset) | (lost & self.on_life_loss)
        self.ended = ended & ~started
        self.lives = lives
        return obs, rewards, terminated, truncated, info

    def step(self, actions: np.ndarray):
        self.send(actions)
        return self.recv()


def describe_protocol(config) -> str:
    """The FIRE settings and dynamics of an environment, in words, as commands print them."""
    presses = [when for when, on in (("at reset", config.fire_on_reset),
                                     ("after a lost life", config.fire_on_life_loss)) if on]  # fmt: skip
    fire = f"FIRE {' and '.join(presses)}" if presses else "no FIRE presses"
    if presses and fire_index(config) is None:
        fire += f" (none in {config.game}, which has no FIRE action)"
    return f"{fire}, up to {config.noop_max} no-op starts, sticky actions {config.repeat_action_probability}"


def played_actions(venv, chosen: np.ndarray) -> np.ndarray:
    """The actions `venv` will play at its next step for the `chosen` ones: what a recorder
    stores (FIRE where a press is due; `chosen` itself for an env without FIRE presses)."""
    return venv.actions(chosen) if isinstance(venv, VectorFirePresses) else chosen


class FirePresses:
    """The single gymnasium env (`make_env`), with FIRE pressed as `config` asks. Every
    attribute but reset and step is the wrapped env's (render, close, action_space, ...)."""

    def __init__(self, env, config, fire: int):
        self.env = env
        self.fire = fire
        self.on_reset = bool(config.fire_on_reset)
        self.on_life_loss = bool(config.fire_on_life_loss)
        self.due = False
        self.lives = 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.due = self.on_reset
        self.lives = int(info["lives"])
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(self.fire if self.due else action)
        lives = int(info["lives"])
        self.due = self.on_life_loss and lives < self.lives and not (terminated or truncated)
        self.lives = lives
        return obs, reward, terminated, truncated, info
