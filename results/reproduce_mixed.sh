#!/usr/bin/env bash
# The mixed-teacher experiment: one AMN distilled from teachers of two kinds, the four shipped
# DQN experts (Q-values) and the shipped SB3 PPO Asterix teacher (action logits), evaluated
# with results/reproduce.sh's protocol. Its small results (evaluations, held-out metrics, the
# teachers) are kept in results/mixed/; results/report.py makes the mixed-teacher table of them.
#
#   bash results/reproduce_mixed.sh        # hours of one core; re-run to resume
#
# Stages (each skips what it already finished):
#   1. the PPO teacher's store, collected as reproduce.sh's stage 1 collects the DQN experts'
#      (100k steps, 4 environments, --hidden-window 32768, seed 0); the teacher samples from
#      its policy and plays SB3's protocol (FIRE at reset and after a lost life), as its
#      checkpoint records. The DQN experts' stores are reproduce.sh's (DQN_STORES).
#   2. one AMN-policy (beta 0, tau 1 for the Q-value teachers, logit_tau 1 for the PPO teacher),
#      20k updates of 64 states, balanced over the five games: reproduce.sh's distill_config
#   3. evaluation: every expert and the AMN, reproduce.sh's stage 3 protocol (30k steps on 8
#      environments, Crazy Climber 120k on 4; epsilon 0.05; seed 0), one game per command
set -euo pipefail
cd "$(dirname "$0")/.."
source results/distill_config.sh
BIN=${BIN:-.venv/bin}
WORK=${WORK:-runs/results-mixed}           # stores and fits: large, not in git
DQN_STORES=${DQN_STORES:-runs/results/stores}
OUT=results/mixed                          # evaluations and metrics: small, kept in git
DQN_GAMES=(breakout crazy_climber seaquest boxing)
PG_GAME=asterix
LONG_GAMES=(crazy_climber)
COLLECT_STEPS=100000; DISTILL_STEPS=20000; EVAL_STEPS=30000; LONG_EVAL_STEPS=120000
mkdir -p "$WORK/stores" "$OUT"
COMPUTE_LOG=$OUT/compute.txt  # timed's stage log

echo "== 1. the PPO teacher's store ($COLLECT_STEPS steps)"
require_stores "$DQN_STORES" "${DQN_GAMES[@]}"
if [ ! -f "$WORK/stores/$PG_GAME.done" ]; then
  timed "collect-$PG_GAME" "$BIN/amn" collect --expert "experts/$PG_GAME.safetensors" \
    --out "$WORK/stores/$PG_GAME.zarr" --steps "$COLLECT_STEPS" --num-envs 4 --hidden-window 32768 --seed 0 \
    --no-progress --resume
  touch "$WORK/stores/$PG_GAME.done"
fi

echo "== 2. the mixed AMN ($DISTILL_STEPS updates)"
entries=()
for game in "${DQN_GAMES[@]}"; do entries+=("$game: $DQN_STORES/$game.zarr"); done
write_distill_config "$WORK/distill.yaml" "${entries[@]}" "$PG_GAME: $WORK/stores/$PG_GAME.zarr"
amn_of() { find "$WORK/amn" -name amn.safetensors 2>/dev/null | sort | tail -n 1; }
amn=$(amn_of || true)
if [ -z "$amn" ]; then
  # a fit stopped part-way continues where it stopped (SIGTERM saves last.ckpt there)
  last=$(find "$WORK/amn" -name last.ckpt 2>/dev/null | sort | tail -n 1 || true)
  timed distill-mixed "$BIN/amn" distill fit --config "$WORK/distill.yaml" ${last:+--ckpt_path "$last"} \
    --model.beta 0 --model.tau 1 --model.logit_tau 1 --trainer.max_steps "$DISTILL_STEPS" \
    --trainer.val_check_interval "$((DISTILL_STEPS / 4))" \
    --checkpoint.every_n_train_steps "$((DISTILL_STEPS / 2))" --checkpoint.save_top_k -1 \
    --trainer.default_root_dir "$WORK/amn"
  amn=$(amn_of)
fi
mkdir -p "$OUT/amn/mixed"
cp "$(dirname "$amn")/metrics.csv" "$OUT/amn/mixed/metrics.csv"  # held-out agreement and KL per game

echo "== 3. evaluation ($EVAL_STEPS steps per game and policy)"
evaluate() {  # evaluate NAME GAME ARGS...: one game, skipped when its table exists
  local name=$1 game=$2 steps=$EVAL_STEPS envs=8 out
  shift 2
  if [[ " ${LONG_GAMES[*]} " == *" $game "* ]]; then steps=$LONG_EVAL_STEPS; envs=4; fi
  out="$OUT/eval/$name/$game"
  if [ ! -f "$out/evaluation.json" ]; then
    timed "evaluate-$name-$game" "$BIN/amn" evaluate "$@" --games "$game" --steps "$steps" --num-envs "$envs" \
      --seed 0 --out "$out" --no-progress
  fi
}
for game in "${DQN_GAMES[@]}" "$PG_GAME"; do
  evaluate experts "$game" --experts "experts/$game.safetensors"
  evaluate mixed "$game" --amn "$amn"
done
echo "done: python results/report.py ... (its --mixed $OUT) writes the mixed-teacher table"
