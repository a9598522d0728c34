#!/usr/bin/env bash
# Regenerates every number and plot of results/README.md from the shipped experts.
#
#   bash results/reproduce.sh            # the CPU-scale experiment: hours; re-run to resume
#   bash results/reproduce.sh --quick    # the whole chain at toy scale in minutes (a check)
#   bash results/reproduce.sh --baseline # only stage 5's random-init DQNs, which need no AMN:
#                                        # they can train on one core while stages 1-4 run
#   bash results/reproduce.sh --multitask  # stages 1-4 and the report, no transfer (one core)
#
# Stages (each skips what it already finished, so the script resumes after any stop):
#   1. teacher stores: one per source game, its expert acting (epsilon 0.05) and labelling;
#      4 environments (25k-step lanes), each lane one activation window (docs/storage.md)
#   2. AMNs: AMN-policy (beta 0) and AMN-feature (beta 0.01), at tau 1 (the paper's) and a
#      smaller tau, the same number of updates each
#   3. evaluation: experts and AMNs in the real games, same protocol, same seeds
#   4. student-acts round: the AMN acts (epsilon 0.1), the experts label, training resumes;
#      against the expert-data-only AMN at an equal number of updates
#   5. transfer: DQNs on a game no expert or AMN has seen, random init against AMN init
#   6. results/README.md, its CSV tables and PNG plots (python results/report.py)
# Work files go to runs/results (full) or runs/results-quick; only stage 6 writes to results/.
set -euo pipefail
cd "$(dirname "$0")/.."
source results/distill_config.sh
BIN=${BIN:-.venv/bin}
SCALE=full
BASELINE_ONLY=0
SKIP_TRANSFER=0
case "${1:-}" in
  --quick) SCALE=quick ;;
  --baseline) BASELINE_ONLY=1 ;;
  --multitask) SKIP_TRANSFER=1 ;;
  "") ;;
  *) echo "usage: bash results/reproduce.sh [--quick | --baseline | --multitask]" >&2; exit 2 ;;
esac

# Source games (each with a shipped expert in experts/) and the transfer target, which no
# expert and no AMN has seen. MAX_WALL_MINUTES (default: none) bounds the transfer stage's
# session; the same command continues it.
read -r -a SOURCES <<< "${SOURCES:-breakout crazy_climber seaquest boxing}"
TARGET=${TARGET:-road_runner}
MAX_WALL_MINUTES=${MAX_WALL_MINUTES:-0}
if [ "$SCALE" = full ]; then
  WORK=runs/results
  TRANSFER_DIR=results/transfer/$TARGET  # small logs kept in git: finished runs carry over
  COLLECT_STEPS=100000; DISTILL_STEPS=20000; EVAL_STEPS=30000; LONG_EVAL_STEPS=120000
  ROUND_STEPS=25000; ROUND_UPDATES=10000
  TRANSFER_STEPS=250000; TRANSFER_BLOCK=50000; TRANSFER_EVAL_EVERY=25000; TRANSFER_EVAL_STEPS=10000
  TRANSFER_SEEDS=(0 1 2)
  ROUND_SEEDS=(0 1 2)
else
  WORK=runs/results-quick
  TRANSFER_DIR=$WORK/transfer/$TARGET
  COLLECT_STEPS=3000; DISTILL_STEPS=200; EVAL_STEPS=2000; LONG_EVAL_STEPS=4000
  ROUND_STEPS=1000; ROUND_UPDATES=100
  TRANSFER_STEPS=3000; TRANSFER_BLOCK=1000; TRANSFER_EVAL_EVERY=1000; TRANSFER_EVAL_STEPS=500
  TRANSFER_SEEDS=(0)
  ROUND_SEEDS=(0 1)
fi
mkdir -p "$WORK"
# The transfer settings: the experts' DQN settings (experts/README.md), the same for every
# variant and seed.
transfer() {
  "$BIN/amn" transfer --game "$TARGET" --preset cheap --steps "$TRANSFER_STEPS" \
    --learning-starts 20000 --epsilon-decay-steps 100000 --target-update 2000 \
    --eval-every "$TRANSFER_EVAL_EVERY" --eval-steps "$TRANSFER_EVAL_STEPS" \
    --block-size "$TRANSFER_BLOCK" --checkpoint-minutes 15 --max-wall-minutes "$MAX_WALL_MINUTES" \
    --no-progress --out-dir "$TRANSFER_DIR" "$@"
}
if [ "$BASELINE_ONLY" = 1 ]; then
  echo "== 5 (baseline only). random-init DQNs on $TARGET, seeds ${TRANSFER_SEEDS[*]}"
  transfer --seeds "${TRANSFER_SEEDS[@]}"
  exit 0
fi
EXPERTS=()
for game in "${SOURCES[@]}"; do EXPERTS+=("experts/$game.safetensors"); done

echo "== 1. teacher stores ($COLLECT_STEPS steps per game)"
for game in "${SOURCES[@]}"; do
  store="$WORK/stores/$game.zarr"
  if [ -f "$WORK/stores/$game.done" ]; then continue; fi
  timed "collect-$game" "$BIN/amn" collect --expert "experts/$game.safetensors" --out "$store" \
    --steps "$COLLECT_STEPS" --num-envs 4 --hidden-window 32768 --seed 0 --no-progress --resume
  touch "$WORK/stores/$game.done"
done
"$BIN/amn" dataset info "$WORK"/stores/*.zarr --json > "$WORK/stores.json"

# The distillation config: every source game, its store, balanced minibatches.
distill_config() {  # distill_config OUT_YAML STORE_SUFFIX...
  local out=$1 suffix stores entries=()
  shift
  for game in "${SOURCES[@]}"; do
    stores="$WORK/stores/$game.zarr"
    for suffix in "$@"; do stores="$stores, $WORK/rounds/$game-$suffix.zarr"; done
    entries+=("$game: $stores")
  done
  write_distill_config "$out" "${entries[@]}"
}
distill_config "$WORK/distill.yaml"

amn_of() { find "$WORK/amn/$1" -name amn.safetensors 2>/dev/null | sort | tail -n 1; }
# A fit stopped part-way continues where it stopped (SIGTERM saves last.ckpt there; after a
# kill, last.ckpt is the last periodic save) instead of starting over.
start_of() {  # start_of NAME [CKPT]: the checkpoint NAME's fit starts from, if any
  local last
  last=$(find "$WORK/amn/$1" -name last.ckpt 2>/dev/null | sort | tail -n 1)
  echo "${last:-${2:-}}"
}

echo "== 2. AMNs ($DISTILL_STEPS updates each)"
declare -A BETA=([policy]=0 [feature]=0.01)
# tau 1 first: stage 5 transfers from the tau-1 AMNs, so they are ready soonest.
for tau in 1 0.01; do
  for variant in policy feature; do
    name="$variant-tau$tau"
    if [ -n "$(amn_of "$name")" ]; then continue; fi
    start=$(start_of "$name")
    timed "distill-$name" "$BIN/amn" distill fit --config "$WORK/distill.yaml" ${start:+--ckpt_path "$start"} \
      --model.beta "${BETA[$variant]}" --model.tau "$tau" --trainer.max_steps "$DISTILL_STEPS" \
      --trainer.val_check_interval "$((DISTILL_STEPS / 4))" \
      --checkpoint.every_n_train_steps "$((DISTILL_STEPS / 2))" --checkpoint.save_top_k -1 \
      --trainer.default_root_dir "$WORK/amn/$name"
  done
done

echo "== 3. evaluation ($EVAL_STEPS steps per game and policy)"
# Same protocol and seed for everyone; the experts once, each AMN on its own. Only episodes
# that end count, so games whose episodes outlast a share of the budget (a good Crazy Climber
# player: ~7k agent steps) are played longer on fewer environments: 4 x 30k steps, about a
# dozen episodes, where 8 x 3,750 ended none and 2 x 15k only 2 or 3.
read -r -a LONG_GAMES <<< "${LONG_EPISODE_GAMES:-crazy_climber}"
SHORT_GAMES=()
for game in "${SOURCES[@]}"; do
  [[ " ${LONG_GAMES[*]} " == *" $game "* ]] || SHORT_GAMES+=("$game")
done
evaluate() {  # evaluate NAME ARGS...: each part skipped when its table exists
  local name=$1 long=()
  shift
  for game in "${LONG_GAMES[@]}"; do [[ " ${SOURCES[*]} " == *" $game "* ]] && long+=("$game"); done
  if [ "${#SHORT_GAMES[@]}" -gt 0 ] && [ ! -f "$WORK/eval/$name/evaluation.json" ]; then
    timed "evaluate-$name" "$BIN/amn" evaluate "$@" --games "${SHORT_GAMES[@]}" --steps "$EVAL_STEPS" \
      --num-envs 8 --seed 0 --out "$WORK/eval/$name" --no-progress
  fi
  if [ "${#long[@]}" -gt 0 ] && [ ! -f "$WORK/eval/$name/long-episodes/evaluation.json" ]; then
    timed "evaluate-$name-long" "$BIN/amn" evaluate "$@" --games "${long[@]}" --steps "$LONG_EVAL_STEPS" \
      --num-envs 4 --seed 0 --out "$WORK/eval/$name/long-episodes" --no-progress
  fi
}
evaluate experts --experts "${EXPERTS[@]}"
for name in policy-tau1 feature-tau1 policy-tau0.01 feature-tau0.01; do
  evaluate "$name" --amn "$(amn_of "$name")"
done

echo "== 4. a student-acts round against expert data only, at equal updates (seeds ${ROUND_SEEDS[*]})"
# Both continue the AMN-policy (tau 1) fit's half-way checkpoint for the same number of
# updates: one on the expert-acts stores alone, one with the round's stores added. Each seed
# collects its own round (collection seed: seed + 1) and draws its own minibatch order and
# held-out episodes (data.seed). Seed 0's names carry no suffix (the first run's).
half=$((DISTILL_STEPS / 2))
base_ckpt=$(find "$WORK/amn/policy-tau1" -name "*step=$half.ckpt" | sort | head -n 1)
round_amn="$WORK/round-amn.safetensors"
if [ ! -f "$round_amn" ]; then
  "$BIN/amn" distill export "$base_ckpt" --out "$round_amn"
fi
ROUND_NAMES=()
for seed in "${ROUND_SEEDS[@]}"; do
  suffix=$([ "$seed" = 0 ] || echo "-seed$seed")
  r1=round-r1$suffix
  none=round-none$suffix
  ROUND_NAMES+=("$r1" "$none")
  if [ -z "$(amn_of "$r1")" ]; then
    mkdir -p "$WORK/rounds"
    for game in "${SOURCES[@]}"; do
      store="$WORK/rounds/$game-r1$suffix.zarr"
      [ -f "$WORK/rounds/$game-r1$suffix.done" ] && continue
      timed "round-collect-$game$suffix" "$BIN/amn" collect --expert "experts/$game.safetensors" \
        --behaviour "$round_amn" --behaviour-epsilon 0.1 --round r1 --out "$store" \
        --steps "$ROUND_STEPS" --num-envs 8 --seed "$((seed + 1))" --no-progress --resume
      touch "$WORK/rounds/$game-r1$suffix.done"
    done
    distill_config "$WORK/distill-r1$suffix.yaml" "r1$suffix"
    timed "round-fit$suffix" "$BIN/amn" distill fit --config "$WORK/distill-r1$suffix.yaml" \
      --ckpt_path "$(start_of "$r1" "$base_ckpt")" --data.seed "$seed" --seed_everything "$seed" \
      --model.beta 0 --model.tau 1 --trainer.max_steps "$((half + ROUND_UPDATES))" \
      --trainer.val_check_interval "$ROUND_UPDATES" --trainer.default_root_dir "$WORK/amn/$r1"
  fi
  if [ -z "$(amn_of "$none")" ]; then
    timed "round-baseline-fit$suffix" "$BIN/amn" distill fit --config "$WORK/distill.yaml" \
      --ckpt_path "$(start_of "$none" "$base_ckpt")" --data.seed "$seed" --seed_everything "$seed" \
      --model.beta 0 --model.tau 1 --trainer.max_steps "$((half + ROUND_UPDATES))" \
      --trainer.val_check_interval "$ROUND_UPDATES" --trainer.default_root_dir "$WORK/amn/$none"
  fi
done
for name in "${ROUND_NAMES[@]}"; do
  evaluate "$name" --amn "$(amn_of "$name")"
done

echo "== 5. transfer to $TARGET ($TRANSFER_STEPS steps, seeds ${TRANSFER_SEEDS[*]})"
# Two processes share the work (one per core); a last call with every seed writes the table.
# Runs already finished (the baseline's, say) are skipped; a run another process is training
# is refused (its folder is locked), so run the two processes' seeds apart.
AMNS=(--amn "amn-policy=$(amn_of policy-tau1)" --amn "amn-feature=$(amn_of feature-tau1)")
if [ "$SKIP_TRANSFER" = 1 ]; then
  echo "(skipped: --multitask)"
elif [ "$SCALE" = quick ]; then
  transfer "${AMNS[@]}" --learning-starts 500 --epsilon-decay-steps 1000 --replay-capacity 5000 \
    --seeds "${TRANSFER_SEEDS[@]}"
else
  transfer "${AMNS[@]}" --seeds 0 2 > "$WORK/transfer-a.log" 2>&1 &
  transfer "${AMNS[@]}" --seeds 1 > "$WORK/transfer-b.log" 2>&1
  wait
  timed transfer-table transfer "${AMNS[@]}" --seeds "${TRANSFER_SEEDS[@]}"
fi

echo "== 6. tables and plots"
# Full scale: every transfer target kept in git (results/transfer/<game>/; the others' commands
# are in results/README.md), each its own section.
if [ "$SCALE" = full ]; then TRANSFERS=(results/transfer/*); else TRANSFERS=("$TRANSFER_DIR"); fi
"$BIN/python" results/report.py --work "$WORK" --transfer "${TRANSFERS[@]}" --long-episode-games "${LONG_GAMES[@]}" \
  --transfer-steps "$TRANSFER_STEPS" --transfer-block "$TRANSFER_BLOCK" --transfer-eval-every "$TRANSFER_EVAL_EVERY" \
  --out "$( [ "$SCALE" = full ] && echo results || echo "$WORK/report" )"
