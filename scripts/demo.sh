#!/usr/bin/env bash
# The whole actor-mimic pipeline on the shipped experts, small enough for a CPU in about ten
# minutes (`make demo`): experts -> teacher stores -> dataset info/verify -> one AMN for every
# game -> the AMN and the experts in the real games (a table, and a GIF of one episode each).
# Only experts the project trained are used (experts/, see experts/README.md). Everything is
# written under runs/demo/. Scale it up with the variables below or with results/reproduce.sh.
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=runs/demo
GAMES=(breakout crazy_climber seaquest)   # the games of configs/demo.yaml
STEPS=${DEMO_COLLECT_STEPS:-5000}          # per game
EVAL_STEPS=${DEMO_EVAL_STEPS:-3000}        # per game and policy
EXPERTS=${DEMO_EXPERTS:-experts}
mkdir -p "$OUT"
rm -rf "$OUT/stores" "$OUT/distill" "$OUT/evaluation"   # the demo's own outputs only

echo "== 1. collect a teacher store per game ($STEPS steps: the expert acts and labels)"
for game in "${GAMES[@]}"; do
  "$BIN/amn" collect --expert "$EXPERTS/$game.safetensors" --out "$OUT/stores/$game.zarr" \
    --steps "$STEPS" --num-envs 8 --seed 0
done

echo "== 2. inspect and verify the stores"
"$BIN/amn" dataset info "$OUT"/stores/*.zarr
"$BIN/amn" dataset verify "$OUT"/stores/*.zarr

echo "== 3. distill one AMN for every game (configs/demo.yaml)"
"$BIN/amn" distill fit --config configs/demo.yaml
AMN=$(find "$OUT/distill" -name amn.safetensors | sort | tail -n 1)
echo "exported AMN: $AMN"

echo "== 4. play the experts and the AMN in the real games ($EVAL_STEPS steps each)"
EXPERT_FILES=()
for game in "${GAMES[@]}"; do EXPERT_FILES+=("$EXPERTS/$game.safetensors"); done
"$BIN/amn" evaluate --amn "$AMN" --experts "${EXPERT_FILES[@]}" --steps "$EVAL_STEPS" --num-envs 8 \
  --out "$OUT/evaluation" --video "$OUT/evaluation" --video-steps 2000 --no-progress
echo "== done: stores, AMN, table and GIFs are under $OUT/"
