"""The command line maps onto CollectConfig, and the printed resume command reproduces it."""

from __future__ import annotations

import argparse
import dataclasses
import shlex

from actor_mimic.collect.cli import config_from_args, configure, resume_command


def parse(command: list[str]):
    parser = argparse.ArgumentParser()
    configure(parser)
    return config_from_args(parser.parse_args(command))


def test_resume_command_reproduces_every_setting():
    command = [
        "--expert", "experts/pong v2.safetensors", "--out", "stores/pong-1.h5", "--episodes", "40",
        "--epsilon", "0.1", "--behaviour", "amn.safetensors", "--behaviour-epsilon", "0.2", "--round", "r1",
        "--hidden-layer", "conv", "--seed", "3", "--num-envs", "4", "--shard", "1/3", "--chunk-len", "256",
        "--hidden-window", "2048", "--compression", "lz4:3", "--q-dtype", "float16", "--hidden-dtype", "float32",
        "--noop-max", "0", "--sticky", "0.25", "--backend", "hdf5", "--overwrite",
    ]  # fmt: skip
    config = parse(command)
    assert (config.episodes, config.shard, config.shard_target) == (40, (1, 3), 13)
    printed = resume_command(config)
    assert printed.startswith("amn collect ") and printed.endswith(" --resume") and "--overwrite" not in printed
    resumed = parse(shlex.split(printed)[2:])
    differing = {f.name for f in dataclasses.fields(config) if getattr(config, f.name) != getattr(resumed, f.name)}
    assert differing == {"resume", "overwrite"} and resumed.resume and not resumed.overwrite
