#!/usr/bin/env bash
# Crazy Climber with more teacher data past the wall (results/README.md, "Why the AMN stalls in
# Crazy Climber"): the diagnosis found the AMN a faithful copy of an expert whose store holds
# little past 20,000 points (8% of its steps). So the same expert collects more (another seed),
# and the AMN-policy (tau 1) is fitted again on the four source games, Crazy Climber from both
# stores, with stage 2's settings and number of updates; then evaluated under stage 3's protocol.
#
#   bash results/reproduce_crazy_climber.sh    # ~1.5 hours of one core; re-run to resume
#
# Needs results/reproduce.sh's stage 1 (the four stores). The AMN's rows join the multitask
# table as "AMN-policy, tau 1, more Crazy Climber data" (python results/report.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source results/distill_config.sh
BIN=${BIN:-.venv/bin}
STORES=${STORES:-runs/results/stores}         # reproduce.sh's stage 1
WORK=${WORK:-runs/crazy-climber-data}         # large, not in git
EXTRA_STEPS=${EXTRA_STEPS:-300000}            # three times the first store
SOURCES=(breakout crazy_climber seaquest boxing)
NAME=policy-tau1-more-cc                      # report.py's VARIANTS key
timed() {  # timed NAME command...: runs the command, appends "NAME seconds" to the stage log
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "$name $((SECONDS - start))" >> "$WORK/compute.txt"
}

echo "== 1. $EXTRA_STEPS more Crazy Climber steps from the same expert (seed 1)"
require_stores "$STORES" "${SOURCES[@]}"
mkdir -p "$WORK/stores"
extra=$WORK/stores/crazy_climber-seed1.zarr
if [ ! -f "$WORK/stores/crazy_climber-seed1.done" ]; then
  timed collect-crazy_climber-seed1 "$BIN/amn" collect --expert experts/crazy_climber.safetensors \
    --out "$extra" --steps "$EXTRA_STEPS" --num-envs 4 --hidden-window 32768 --seed 1 --no-progress --resume
  touch "$WORK/stores/crazy_climber-seed1.done"
fi

echo "== 2. the AMN-policy (tau 1), 20,000 updates, Crazy Climber from both stores"
entries=()
for game in "${SOURCES[@]}"; do
  stores="$STORES/$game.zarr"
  [ "$game" = crazy_climber ] && stores="$stores, $extra"
  entries+=("$game: $stores")
done
write_distill_config "$WORK/distill.yaml" "${entries[@]}"
amn=$( (find "$WORK/amn/$NAME" -name amn.safetensors 2>/dev/null || true) | sort | tail -n 1)
if [ -z "$amn" ]; then
  last=$( (find "$WORK/amn/$NAME" -name last.ckpt 2>/dev/null || true) | sort | tail -n 1)
  timed "distill-$NAME" "$BIN/amn" distill fit --config "$WORK/distill.yaml" ${last:+--ckpt_path "$last"} \
    --model.beta 0 --model.tau 1 --trainer.max_steps 20000 --trainer.val_check_interval 5000 \
    --checkpoint.every_n_train_steps 10000 --checkpoint.save_top_k -1 --trainer.default_root_dir "$WORK/amn/$NAME"
  amn=$(find "$WORK/amn/$NAME" -name amn.safetensors | sort | tail -n 1)
fi

echo "== 3. evaluation (stage 3's protocol and seed)"
if [ ! -f "$WORK/eval/$NAME/evaluation.json" ]; then
  timed "evaluate-$NAME" "$BIN/amn" evaluate --amn "$amn" --games breakout seaquest boxing --steps 30000 \
    --num-envs 8 --seed 0 --out "$WORK/eval/$NAME" --no-progress
fi
if [ ! -f "$WORK/eval/$NAME/long-episodes/evaluation.json" ]; then
  timed "evaluate-$NAME-long" "$BIN/amn" evaluate --amn "$amn" --games crazy_climber --steps 120000 \
    --num-envs 4 --seed 0 --out "$WORK/eval/$NAME/long-episodes" --no-progress
fi

echo "== 4. the report"
"$BIN/python" results/report.py --work "$WORK" --out results \
  --transfer results/transfer/road_runner results/transfer/breakout
