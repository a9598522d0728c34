"""`amn distill`: train, validate and test an AMN, export it.

    amn distill fit --config configs/distill_smoke.yaml
    amn distill fit --config configs/distill_smoke.yaml --trainer.max_steps 500 --model.beta 0
    amn distill fit --config ... --ckpt_path runs/distill/version_0/checkpoints/last.ckpt   # resume
    amn distill validate --config ... --ckpt_path .../last.ckpt     # per-game held-out metrics
    amn distill fit --config ... --print_config                     # the full resolved config
    amn distill export LIGHTNING.ckpt --out amn.safetensors         # the shared AMN checkpoint
    amn distill round --help                                        # the paper's regime (README)

fit/validate/test are LightningCLI (`actor_mimic.distill.fit`): a YAML config (`--config`),
command-line overrides, unknown keys rejected. `amn distill round` spans stages (collect, then
fit): `actor_mimic.cli` sends it to `actor_mimic.pipelines.student_round`.
"""

from __future__ import annotations

import sys

from actor_mimic.common.arguments import ArgumentParser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        return export(argv[1:])
    from actor_mimic.distill.fit import run_command

    return run_command(argv)


def export(argv: list[str]) -> int:
    """`amn distill export CKPT --out AMN.safetensors`."""
    parser = ArgumentParser(
        prog="amn distill export", description="write the shared AMN checkpoint from a Lightning checkpoint"
    )
    parser.add_argument("ckpt_path", help="a .ckpt written by `amn distill fit` (your own run, a local file)")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if it holds an actor-mimic checkpoint (nothing else is replaced)",
    )
    args = parser.parse_args(argv)
    from actor_mimic.distill.export import export_lightning_checkpoint

    path = export_lightning_checkpoint(args.ckpt_path, args.out, overwrite=args.overwrite)
    print(f"exported the AMN to {path}")
    return 0
