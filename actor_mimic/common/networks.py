"""The networks of the paper: the Nature DQN and the larger multitask AMN.

Both take uint8 frame stacks (B, 4, 84, 84) and scale them to [0, 1] themselves, so every
caller feeds raw stored frames. Both expose their hidden layers by name, because feature
regression needs the expert's and the AMN's hidden activations:

    q_values, hidden = net(frames, hidden_layer="fc")   # hidden: (B, hidden_size("fc"))

`hidden_layer=None` (the default) returns the Q-values alone.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_output_size(convs: nn.Module, in_channels: int, screen_size: int) -> int:
    with torch.no_grad():
        return int(convs(torch.zeros(1, in_channels, screen_size, screen_size)).numel())


class NatureDQN(nn.Module):
    """Mnih et al. 2015: conv 32x8x8/4, 64x4x4/2, 64x3x3/1, fc 512, linear to actions.

    Hidden layers: "conv" (the flattened third convolution, after its rectifier) and "fc" (the
    512 units after their rectifier: the paper's h for feature regression).
    """

    architecture = "nature_dqn"
    hidden_layers = ("conv", "fc")

    def __init__(self, num_actions: int, in_channels: int = 4, screen_size: int = 84):
        super().__init__()
        self.num_actions = num_actions
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        conv_size = _conv_output_size(self.convs, in_channels, screen_size)
        self.fc = nn.Sequential(nn.Linear(conv_size, 512), nn.ReLU())
        self.head = nn.Linear(512, num_actions)
        self._hidden_sizes = {"conv": conv_size, "fc": 512}

    def hidden_size(self, layer: str = "fc") -> int:
        return self._hidden_sizes[layer]

    def forward(self, frames: torch.Tensor, hidden_layer: str | None = None):
        x = frames.float() / 255.0
        conv = self.convs(x)
        fc = self.fc(conv)
        q_values = self.head(fc)
        if hidden_layer is None:
            return q_values
        return q_values, {"conv": conv, "fc": fc}[hidden_layer]


class MultitaskAMN(nn.Module):
    """The paper's larger AMN pretrained on 13 source games (`convnet_multitask_atari`):
    conv 256x8x8/4, 512x4x4/2, 512x3x3/1, 512x3x3/1, fc 2048, fc 1024, linear to actions.

    Hidden layers: "conv", "fc1" (2048) and "fc" (the last 1024 units, the paper's h).
    """

    architecture = "multitask_amn"
    hidden_layers = ("conv", "fc1", "fc")

    def __init__(self, num_actions: int, in_channels: int = 4, screen_size: int = 84):
        super().__init__()
        self.num_actions = num_actions
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 256, 8, stride=4), nn.ReLU(),
            nn.Conv2d(256, 512, 4, stride=2), nn.ReLU(),
            nn.Conv2d(512, 512, 3, stride=1), nn.ReLU(),
            nn.Conv2d(512, 512, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        conv_size = _conv_output_size(self.convs, in_channels, screen_size)
        self.fc1 = nn.Sequential(nn.Linear(conv_size, 2048), nn.ReLU())
        self.fc = nn.Sequential(nn.Linear(2048, 1024), nn.ReLU())
        self.head = nn.Linear(1024, num_actions)
        self._hidden_sizes = {"conv": conv_size, "fc1": 2048, "fc": 1024}

    def hidden_size(self, layer: str = "fc") -> int:
        return self._hidden_sizes[layer]

    def forward(self, frames: torch.Tensor, hidden_layer: str | None = None):
        x = frames.float() / 255.0
        conv = self.convs(x)
        fc1 = self.fc1(conv)
        fc = self.fc(fc1)
        q_values = self.head(fc)
        if hidden_layer is None:
            return q_values
        return q_values, {"conv": conv, "fc1": fc1, "fc": fc}[hidden_layer]


Network = NatureDQN | MultitaskAMN  # every architecture: `hidden_layers`, `hidden_size`, forward

ARCHITECTURES: dict[str, type[Network]] = {
    NatureDQN.architecture: NatureDQN,
    MultitaskAMN.architecture: MultitaskAMN,
}


def build_network(architecture: str, num_actions: int, in_channels: int = 4, screen_size: int = 84) -> Network:
    """A freshly initialised network of a named architecture.

    Sizes usually come from a checkpoint's or a store's metadata, so they are checked here,
    before any weight is allocated: 1..18 outputs (ALE has 18 actions), 1..16 stacked frames,
    screens of at most 256 pixels and large enough for the convolutions."""
    from actor_mimic.common.atari import NUM_ALE_ACTIONS
    from actor_mimic.common.limits import check_whole
    from actor_mimic.errors import UserError

    if architecture not in ARCHITECTURES:
        raise UserError(f"unknown architecture {architecture!r}: choose one of {sorted(ARCHITECTURES)}")
    check_whole(num_actions, "the number of actions", 1, NUM_ALE_ACTIONS)
    check_whole(in_channels, "stack_size", 1, 16)
    check_whole(screen_size, "screen_size", 8, 256)
    try:
        return ARCHITECTURES[architecture](num_actions, in_channels, screen_size)
    except RuntimeError:  # a convolution's output would be empty
        raise UserError(
            f"{architecture} cannot take {screen_size}x{screen_size} screens: they are too small for its convolutions"
        ) from None
