#!/usr/bin/env bash
# Transfer to Breakout, the second target (results/README.md, section 5): Breakout is left out of
# the sources, so its AMN is distilled from the other three source games' stores, then three
# arms of DQNs train on Breakout with Road Runner's settings, 3 seeds each.
#
#   bash results/reproduce_breakout.sh                 # many hours of one core; re-run to resume
#   MAX_WALL_MINUTES=170 bash results/reproduce_breakout.sh   # stop (saved) before a deadline
#   SEEDS="1" ARMS="amn-policy amn-fresh-head" bash results/reproduce_breakout.sh   # a share of the
#       runs: two such commands with disjoint shares use two cores (each run is one core)
#
# Stages (each skips what it finished; a stopped one continues where it stopped):
#   1. the AMN: AMN-policy (beta 0, tau 1), 10,000 updates of 64 states, balanced over
#      crazy_climber, seaquest and boxing (reproduce.sh's stores, DQN_STORES)
#   2. the arms, seed by seed: random init, the whole AMN (amn-policy), the AMN with a fresh
#      output layer (amn-fresh-head); small logs in results/transfer/breakout (kept in git)
#   3. the report: python results/report.py (every target)
set -euo pipefail
cd "$(dirname "$0")/.."
source results/distill_config.sh
BIN=${BIN:-.venv/bin}
WORK=${WORK:-runs/breakout-transfer}          # the AMN: large, not in git
DQN_STORES=${DQN_STORES:-runs/results/stores}
SOURCES=(crazy_climber seaquest boxing)
read -r -a SEEDS <<< "${SEEDS:-0 1 2}"
read -r -a ARMS <<< "${ARMS:-random amn-policy amn-fresh-head}"
for arm in "${ARMS[@]}"; do
  case $arm in
    random | amn-policy | amn-fresh-head) ;;
    *) echo "unknown arm '$arm' in ARMS: use random, amn-policy, amn-fresh-head" >&2; exit 2 ;;
  esac
done
MAX_WALL_MINUTES=${MAX_WALL_MINUTES:-0}
START=$SECONDS
left() {  # minutes left of MAX_WALL_MINUTES (0: no limit)
  if [ "$MAX_WALL_MINUTES" = 0 ]; then echo 0; else echo $((MAX_WALL_MINUTES - (SECONDS - START) / 60)); fi
}

echo "== 1. the AMN from ${SOURCES[*]}"
require_stores "$DQN_STORES" "${SOURCES[@]}"
mkdir -p "$WORK"
entries=()
for game in "${SOURCES[@]}"; do entries+=("$game: $DQN_STORES/$game.zarr"); done
write_distill_config "$WORK/distill.yaml" "${entries[@]}"
amn_of() { (find "$WORK/amn-policy" -name amn.safetensors 2>/dev/null || true) | sort | tail -n 1; }
amn=$(amn_of)
if [ -z "$amn" ]; then
  last=$( (find "$WORK/amn-policy" -name last.ckpt 2>/dev/null || true) | sort | tail -n 1)
  "$BIN/amn" distill fit --config "$WORK/distill.yaml" ${last:+--ckpt_path "$last"} \
    --model.beta 0 --model.tau 1 --trainer.max_steps 10000 --trainer.val_check_interval 5000 \
    --checkpoint.every_n_train_steps 2500 --checkpoint.save_top_k -1 --trainer.default_root_dir "$WORK/amn-policy"
  amn=$(amn_of)
fi

echo "== 2. the arms ${ARMS[*]} (250k agent steps each, seeds ${SEEDS[*]})"
transfer() {
  if [ "$MAX_WALL_MINUTES" != 0 ] && [ "$(left)" -le 1 ]; then
    echo "stopped at the wall-clock limit: run the same command again to continue"
    exit 0
  fi
  "$BIN/amn" transfer --game breakout --preset cheap --steps 250000 \
    --learning-starts 20000 --epsilon-decay-steps 100000 --target-update 2000 \
    --eval-every 25000 --eval-steps 10000 --block-size 50000 --checkpoint-minutes 15 \
    --max-wall-minutes "$(left)" --no-progress --out-dir results/transfer/breakout "$@"
}
for seed in "${SEEDS[@]}"; do
  for arm in "${ARMS[@]}"; do
    case $arm in
      random) transfer --seeds "$seed" ;;
      amn-policy) transfer --no-random --amn "amn-policy=$amn" --seeds "$seed" ;;
      amn-fresh-head) transfer --no-random --fresh-head --amn "amn-fresh-head=$amn" --seeds "$seed" ;;
    esac
  done
done

echo "== 3. the report"
"$BIN/python" results/report.py --work runs/results --out results \
  --transfer results/transfer/road_runner results/transfer/breakout
