"""Expert rollouts -> teacher stores: the `amn collect` command and its Python API.

    from actor_mimic.collect import CollectConfig, collect
    path = collect(CollectConfig(expert="expert.safetensors", out="pong.zarr", steps=100_000))

`expert` may also be a loaded `Checkpoint` (e.g. `random_init_expert(AtariConfig("pong"))`).
See `CollectConfig` for every option, `actor_mimic.store.writer` for what a store holds, and
`actor_mimic.collect.metadata` for the provenance a collection records in it.

Layout: config (what to do) -> policies (expert labels, who acts) -> lanes (one per env) ->
rows (per-env buffers) -> writer (create / resume a store, background appends) -> recording
(the rows of a run on their way to the store) -> collector (the loop) -> cli (`amn collect`).
interrupt: clean stops on SIGINT/SIGTERM.
"""

from actor_mimic.collect.collector import collect
from actor_mimic.collect.config import CollectConfig, split_target
from actor_mimic.collect.interrupt import CollectionInterrupted

__all__ = ["CollectConfig", "CollectionInterrupted", "collect", "split_target"]
