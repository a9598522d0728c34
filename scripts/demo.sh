#!/usr/bin/env bash
# The whole actor-mimic pipeline, small enough for a CPU in a few minutes (`make demo`):
#   experts -> teacher stores -> dataset info/verify -> AMN distillation -> evaluation.
# Breakout uses the expert the project trained (experts/breakout.safetensors) when it is
# there; any game without a shipped expert gets an UNTRAINED one, labelled as such in its
# checkpoint and in every store collected from it. Everything is written under runs/demo/.
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=runs/demo
rm -rf "$OUT"
mkdir -p "$OUT/experts" "$OUT/stores"

for game in breakout pong; do
  if [ -f "experts/$game.safetensors" ]; then
    cp "experts/$game.safetensors" "$OUT/experts/$game.safetensors"
    echo "== $game: the shipped expert"
  else
    echo "== $game: no shipped expert, using an UNTRAINED one (plumbing only)"
    "$BIN/amn" checkpoint init --game "$game" --out "$OUT/experts/$game.safetensors"
  fi
done

echo "== 1. collect a teacher store per game"
for game in breakout pong; do
  "$BIN/amn" collect --expert "$OUT/experts/$game.safetensors" \
    --out "$OUT/stores/$game.zarr" --steps 5000 --num-envs 8 --seed 0
done

echo "== 2. inspect and verify the stores"
"$BIN/amn" dataset info "$OUT"/stores/*.zarr
"$BIN/amn" dataset verify "$OUT"/stores/*.zarr

echo "== 3. distill one AMN for both games"
"$BIN/amn" distill fit --config configs/demo.yaml
AMN=$(find "$OUT/distill" -name amn.safetensors | sort | tail -n 1)
echo "exported AMN: $AMN"

echo "== 4. play the experts and the AMN in the real games"
"$BIN/amn" evaluate --amn "$AMN" --experts "$OUT"/experts/*.safetensors \
  --steps 2000 --num-envs 8 --out "$OUT/evaluation"
echo "== done: everything is under $OUT/"
