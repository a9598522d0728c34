#!/usr/bin/env bash
# Crazy Climber's two fixes of the teacher data (results/README.md, "Why the AMN stalls in Crazy
# Climber"): the diagnosis found the AMN a faithful copy of an expert that stalls at 16,000
# points, whose store holds little past 20,000 (8% of its steps).
#
#   bash results/reproduce_crazy_climber.sh                     # --more-data: ~1 hour of one core
#   bash results/reproduce_crazy_climber.sh --stronger-expert   # ~1 hour of one core
#
#   --more-data        the same expert collects 300,000 more steps (seed 1); the AMN is fitted
#                      with Crazy Climber from both stores
#   --stronger-expert  the continued expert (experts/in_progress/crazy_climber.safetensors)
#                      collects a store as stage 1 did (100,000 steps, seed 0); the AMN is fitted
#                      with it in place of the first store, and compared with that expert
#
# Either way the AMN-policy (tau 1) is fitted on the four source games with stage 2's settings
# and number of updates, then evaluated under stage 3's protocol; its rows join the multitask
# table (python results/report.py). Needs results/reproduce.sh's stage 1 (the four stores).
# Each stage skips what it finished, so the same command resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
source results/distill_config.sh
BIN=${BIN:-.venv/bin}
STORES=${STORES:-runs/results/stores}         # reproduce.sh's stage 1
SOURCES=(breakout crazy_climber seaquest boxing)
case "${1:---more-data}" in
  --more-data)
    WORK=${WORK:-runs/crazy-climber-data}; NAME=policy-tau1-more-cc   # report.py's VARIANTS keys
    TEACHER=experts/crazy_climber.safetensors; STEPS=300000; SEED=1
    STORE=$WORK/stores/crazy_climber-seed1.zarr; CRAZY_CLIMBER="$STORES/crazy_climber.zarr, $STORE"
    COLLECT_STAGE=collect-crazy_climber-seed1 ;;
  --stronger-expert)
    WORK=${WORK:-runs/crazy-climber-teacher}; NAME=policy-tau1-stronger-cc
    TEACHER=experts/in_progress/crazy_climber.safetensors; STEPS=100000; SEED=0
    STORE=$WORK/stores/crazy_climber.zarr; CRAZY_CLIMBER=$STORE
    COLLECT_STAGE=collect-crazy_climber-stronger ;;
  *) echo "usage: bash results/reproduce_crazy_climber.sh [--more-data | --stronger-expert]" >&2; exit 2 ;;
esac

echo "== 1. $STEPS Crazy Climber steps from $TEACHER (seed $SEED)"
require_stores "$STORES" "${SOURCES[@]}"
mkdir -p "$WORK/stores"
done_file=${STORE%.zarr}.done
if [ ! -f "$done_file" ]; then
  timed "$COLLECT_STAGE" "$BIN/amn" collect --expert "$TEACHER" --out "$STORE" --steps "$STEPS" \
    --num-envs 4 --hidden-window 32768 --seed "$SEED" --no-progress --resume
  touch "$done_file"
fi

echo "== 2. the AMN-policy (tau 1), 20,000 updates, Crazy Climber from: $CRAZY_CLIMBER"
entries=()
for game in "${SOURCES[@]}"; do
  if [ "$game" = crazy_climber ]; then entries+=("$game: $CRAZY_CLIMBER"); else entries+=("$game: $STORES/$game.zarr"); fi
done
write_distill_config "$WORK/distill.yaml" "${entries[@]}"
amn=$( (find "$WORK/amn/$NAME" -name amn.safetensors 2>/dev/null || true) | sort | tail -n 1)
if [ -z "$amn" ]; then
  last=$( (find "$WORK/amn/$NAME" -name last.ckpt 2>/dev/null || true) | sort | tail -n 1)
  timed "distill-$NAME" "$BIN/amn" distill fit --config "$WORK/distill.yaml" ${last:+--ckpt_path "$last"} \
    --model.beta 0 --model.tau 1 --trainer.max_steps 20000 --trainer.val_check_interval 5000 \
    --checkpoint.every_n_train_steps 5000 --checkpoint.save_top_k -1 --trainer.default_root_dir "$WORK/amn/$NAME"
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
# A new teacher is played under the same protocol, so that the AMN is compared with its own
# teacher (the other games' experts are the table's).
if [ "$TEACHER" != experts/crazy_climber.safetensors ] && [ ! -f "$WORK/eval/experts/long-episodes/evaluation.json" ]; then
  timed evaluate-experts-stronger-cc-long "$BIN/amn" evaluate --experts "$TEACHER" --games crazy_climber \
    --steps 120000 --num-envs 4 --seed 0 --out "$WORK/eval/experts/long-episodes" --no-progress
fi

echo "== 4. the report"
"$BIN/python" results/report.py --work "$WORK" --out results \
  --transfer results/transfer/road_runner results/transfer/breakout
