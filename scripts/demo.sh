#!/usr/bin/env bash
# The whole actor-mimic pipeline on two shipped experts, in about 3 minutes of CPU (`make demo`):
# experts -> teacher stores -> dataset info/verify -> one AMN for both games -> the AMN, the
# experts and a random policy in the real games (a table, and a GIF of one episode each).
# Only experts the project trained are used (experts/, see experts/README.md). Everything is
# written under runs/demo/. Scale it up with the variables below or with results/reproduce.sh.
#
# Breakout and Seaquest: their episodes end within the evaluation budget (a few hundred to
# ~1,000 agent steps), so the scores are those of whole games. Boxing's (~1,800 steps) and
# Crazy Climber's (~7,000) would need many times the budget, and their AMNs many times the
# updates (results/README.md).
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=runs/demo
GAMES=(breakout seaquest)                  # the games of configs/demo.yaml
STEPS=${DEMO_COLLECT_STEPS:-5000}          # per game
EVAL_STEPS=${DEMO_EVAL_STEPS:-5000}        # per game and policy, on 2 environments
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

echo "== 3. distill one AMN for both games (configs/demo.yaml)"
"$BIN/amn" distill fit --config configs/demo.yaml
AMN=$(find "$OUT/distill" -name amn.safetensors | sort | tail -n 1)
echo "exported AMN: $AMN"

echo "== 4. play a random policy, the experts and the AMN in the real games ($EVAL_STEPS steps each)"
EXPERT_FILES=()
for game in "${GAMES[@]}"; do EXPERT_FILES+=("$EXPERTS/$game.safetensors"); done
"$BIN/amn" evaluate --amn "$AMN" --experts "${EXPERT_FILES[@]}" --random --steps "$EVAL_STEPS" \
  --num-envs 2 --out "$OUT/evaluation" --video "$OUT/evaluation" --video-steps 1000 --no-progress
echo "== done in $((SECONDS / 60)) min $((SECONDS % 60)) s: stores, AMN, table and GIFs are under $OUT/"
