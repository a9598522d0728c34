# Shell functions the results/reproduce*.sh scripts share (sourced, not run).

# write_distill_config OUT_YAML "GAME: STORE[, STORE...]"...: the AMN fits' config, one entry
# per game with its stores; balanced minibatches of 64, 5% of the episodes held out.
write_distill_config() {
  local out=$1 entry
  shift
  {
    echo "torch_threads: 1"
    echo "model: {architecture: nature_dqn, hidden_layer: fc, feature_transform: linear}"
    echo "data:"
    echo "  games:"
    for entry in "$@"; do echo "    - {game: ${entry%%:*}, stores: [${entry#*: }]}"; done
    echo "  weighting: balanced"
    echo "  batch_size: 64"
    echo "  val_fraction: 0.05"
    echo "  num_workers: 0"
    echo "trainer: {accelerator: cpu, max_epochs: -1, check_val_every_n_epoch: null, log_every_n_steps: 100}"
  } > "$out"
}

# require_stores STORES_DIR GAME...: stop unless reproduce.sh's stage 1 finished every store.
require_stores() {
  local folder=$1 game
  shift
  for game in "$@"; do
    if [ ! -f "$folder/$game.done" ]; then
      echo "$folder/$game.zarr is not finished: run results/reproduce.sh's stage 1 first" >&2
      exit 1
    fi
  done
}

# timed NAME command...: runs the command, appends "NAME seconds" to the stage log
# (COMPUTE_LOG, default $WORK/compute.txt; report.py reads it into the compute table).
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "$name $((SECONDS - start))" >> "${COMPUTE_LOG:-$WORK/compute.txt}"
}
