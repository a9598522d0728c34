"""The catalogue of bad inputs: one row per mistake, across every `amn` command.

Each row is the command line after `amn` (split like a shell would; `{w}` is the folder of
files built by `world.py`, `{nl}` a newline, `{esc}` an escape character), a distinctive part
of the one-line error it must give, and the mistake in words. Every row must exit with status
2, print exactly one line starting `amn ... error:` (no traceback), and change nothing on
disk. docs/bad_inputs.md is this table, rendered by `render_markdown` (a test keeps it equal).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    command: str
    message: str
    what: str


COLLECT = "collect --no-progress --expert {w}/expert.safetensors"
STEPS = "--out {w}/out/s.zarr --steps 10"
EVALUATE = "evaluate --no-progress --amn {w}/amn.safetensors"
DIAGNOSE = "diagnose play --no-progress --student {w}/amn.safetensors --out {w}/out/diagnosis"
DQN_DIAGNOSIS = "diagnose dqn --no-progress --out {w}/out/dqn --run"
TRAIN = "train-dqn --no-progress --game breakout --run-dir {w}/out/run"
TRANSFER = "transfer --no-progress --game breakout --out-dir {w}/out/transfer"
FIT = "distill fit --config {w}/fit.yaml"
EXPORT = "distill export {w}/tasks.ckpt"
ROUND = ("distill round --config {w}/fit.yaml --ckpt_path {w}/tasks.ckpt --amn {w}/amn.safetensors "
         "--experts {w}/expert.safetensors --round r1 --steps 10 --out_dir {w}/out/round --more_steps 5")  # fmt: skip

CASES = [
    # --- amn itself -----------------------------------------------------------------------
    Case("nosuch", "invalid choice: 'nosuch'", "an unknown command"),
    Case("collect --bogus 1", "unrecognized arguments: --bogus", "an unknown option"),
    # --- amn collect: where it writes -----------------------------------------------------
    Case(f"{COLLECT} --out '' --steps 10 --overwrite", "--out is empty", "an empty --out, with --overwrite"),
    Case(
        f"{COLLECT} --out {{w}}/out/s.zarr --steps 10 --chunk-len 64 --hidden-window 100",
        "--hidden-window 100 must be a whole number of chunks of --chunk-len 64",
        "an activation window of part chunks",
    ),
    Case(
        f"{COLLECT} --out {{w}}/out/s.zarr --steps 10 --hidden-window 0",
        "--hidden-window must be between",
        "an activation window of 0 steps",
    ),
    Case(
        f"{COLLECT} --out . --steps 10 --overwrite", "--out . names a folder, not a teacher store", "`.` as the store"
    ),
    Case(f"{COLLECT} --out .. --steps 10 --overwrite", "--out .. names a folder", "`..` as the store"),
    Case(f"{COLLECT} --out / --steps 10 --overwrite", "--out / names a folder", "`/` as the store"),
    Case(
        f"{COLLECT} --out {{w}}/notes.txt --steps 10 --overwrite",
        "is a file; it must name a teacher store folder",
        "a text file as a Zarr store, with --overwrite",
    ),
    Case(
        f"{COLLECT} --out {{w}}/fake.h5 --steps 10 --overwrite",
        "exists and is not a teacher store written by actor-mimic",
        "a non-store file named .h5, with --overwrite",
    ),
    Case(
        f"{COLLECT} --out {{w}}/folder --steps 10 --overwrite",
        "exists and is not a teacher store",
        "a folder with other files, with --overwrite",
    ),
    Case(
        f"{COLLECT} --out {{w}}/store.zarr --steps 10",
        "already exists: pass --resume to continue it or --overwrite",
        "an existing store, without --resume or --overwrite",
    ),
    Case(
        f"{COLLECT} --out {{w}}/store.zarr --steps 10 --backend hdf5 --overwrite",
        "is a folder; it must name a teacher store file",
        "a Zarr folder as an HDF5 store",
    ),
    Case(
        f"{COLLECT} --out {{w}}/notes.txt/s.zarr --steps 10",
        "notes.txt is a file, not a folder",
        "a store inside a file",
    ),
    Case(f"{COLLECT} --out /sys/amn-test.zarr --steps 10", "cannot write in /sys", "a folder nobody may write in"),
    Case(f"{COLLECT} --out 'a{{nl}}b.zarr' --steps 10", "holds control characters", "a store name with a newline"),
    Case(
        f"{COLLECT} --out 'a{{esc}}[31mred.zarr' --steps 10",
        "holds control characters",
        "a store name with a terminal escape",
    ),
    Case(
        f"{COLLECT} --out {{w}}/folder --steps 10 --resume",
        "is not a teacher store: there is nothing to resume",
        "--resume of a folder that is not a store",
    ),
    Case(
        f"{COLLECT} --out {{w}}/store.zarr --steps 40 --num-envs 1 --chunk-len 16 --epsilon 1 --resume --seed 3",
        "same --seed",
        "--resume with another seed than the store's",
    ),
    # --- amn collect: the target and the sizes ---------------------------------------------
    Case(f"{COLLECT} --out {{w}}/out/s.zarr", "give exactly one target", "no --steps or --episodes"),
    Case(f"{COLLECT} {STEPS} --episodes 3", "not allowed with argument", "both --steps and --episodes"),
    Case(f"{COLLECT} --out {{w}}/out/s.zarr --steps 0", "positive whole number", "--steps 0"),
    Case(f"{COLLECT} --out {{w}}/out/s.zarr --steps -5", "positive whole number", "negative --steps"),
    Case(f"{COLLECT} --out {{w}}/out/s.zarr --steps abc", "invalid int value: 'abc'", "--steps not a number"),
    Case(f"{COLLECT} --out {{w}}/out/s.zarr --episodes 0", "positive whole number", "--episodes 0"),
    Case(
        f"{COLLECT} --out {{w}}/out/s.zarr --steps 100000000000000000000",
        "--steps must be between 1 and",
        "--steps 10**20",
    ),
    Case(f"{COLLECT} {STEPS} --seed -1", "--seed must be between 0 and", "a negative seed"),
    Case(f"{COLLECT} {STEPS} --seed 1099511627776", "--seed must be between 0 and", "a seed of 2**40"),
    Case(f"{COLLECT} {STEPS} --num-envs 0", "--num-envs must be between 1 and 256", "--num-envs 0"),
    Case(f"{COLLECT} {STEPS} --num-envs 10000", "--num-envs must be between 1 and 256", "--num-envs 10000"),
    Case(f"{COLLECT} {STEPS} --chunk-len 0", "--chunk-len must be between 1 and", "--chunk-len 0"),
    Case(f"{COLLECT} {STEPS} --chunk-len 1000000000", "--chunk-len must be between 1 and", "--chunk-len 10**9"),
    Case(f"{COLLECT} {STEPS} --chunk-len 100000", "makes chunks of frames of", "chunks of 670 MiB"),
    Case(f"{COLLECT} {STEPS} --compression zstd:99", "must be a whole number from 0 to 9", "compression level 99"),
    Case(f"{COLLECT} {STEPS} --compression brotli", "unknown compression 'brotli'", "an unknown codec"),
    Case(f"{COLLECT} {STEPS} --compression none:3", "takes no level", "a level for no compression"),
    Case(f"{COLLECT} {STEPS} --epsilon 1.5", "epsilon must lie in [0, 1]", "epsilon above 1"),
    Case(f"{COLLECT} {STEPS} --epsilon nan", "epsilon must be a finite number", "epsilon NaN"),
    Case(f"{COLLECT} {STEPS} --sticky-actions 1", "--sticky-actions must lie in [0, 1)", "sticky actions always on"),
    Case(f"{COLLECT} {STEPS} --noop-max -1", "--noop-max must be between 0 and", "negative no-op starts"),
    Case(f"{COLLECT} {STEPS} --frame-skip 3", "'frame_skip': 3", "a frame skip other than the expert's"),
    Case(f"{COLLECT} {STEPS} --game pongg", "unknown Atari game 'pongg'", "an unknown game"),
    Case(f"{COLLECT} {STEPS} --game pong", "plays breakout, not pong", "a game other than the expert's"),
    Case(f"{COLLECT} {STEPS} --shard 2", "--shard must look like I/N", "a malformed shard"),
    Case(f"{COLLECT} {STEPS} --shard 3/2", "shard 3/2", "a shard index past the count"),
    Case(f"{COLLECT} {STEPS} --hidden-layer fc2", "unknown --hidden-layer 'fc2'", "an unknown hidden layer"),
    Case(f"{COLLECT} {STEPS} --acting often", "invalid choice: 'often'", "an unknown way for a logit teacher to act"),
    Case(f"{COLLECT} {STEPS} --resume --overwrite", "contradict each other", "--resume with --overwrite"),
    Case(f"{COLLECT} {STEPS} --q-dtype float64", "invalid choice: 'float64'", "an unsupported Q-value dtype"),
    # --- amn collect: the checkpoints -----------------------------------------------------
    Case(f"collect --expert {{w}}/nope.safetensors {STEPS}", "nope.safetensors does not exist", "a missing expert"),
    Case(
        f"collect --expert {{w}}/folder {STEPS}", "is a folder (expected a .safetensors file)", "a folder as the expert"
    ),
    Case(
        f"collect --expert {{w}}/pickle.safetensors {STEPS}",
        "not a readable safetensors checkpoint",
        "a pickle renamed .safetensors",
    ),
    Case(
        f"collect --expert {{w}}/garbage.safetensors {STEPS}",
        "not a readable safetensors checkpoint",
        "random bytes named .safetensors",
    ),
    Case(
        f"collect --expert {{w}}/bare.safetensors {STEPS}",
        "not a readable safetensors checkpoint",
        "a truncated checkpoint",
    ),
    Case(f"collect --expert {{w}}/amn.safetensors {STEPS}", "--expert needs a one-game expert", "an AMN as the expert"),
    Case(
        f"collect --expert 'x{{nl}}y.safetensors' {STEPS}",
        "x\\ny.safetensors does not exist",
        "a missing expert whose name holds a newline",
    ),
    Case(
        f"{COLLECT} {STEPS} --behaviour {{w}}/pong.safetensors",
        "plays ['pong'], not breakout",
        "a behaviour policy of another game",
    ),
    Case(
        f"{COLLECT} {STEPS} --behaviour {{w}}/amn64.safetensors",
        "expects preprocessing",
        "a behaviour AMN with other preprocessing",
    ),
    # --- hand-edited checkpoint metadata (read by every command; shown through collect) ----
    Case(
        "collect --expert {w}/edited/num_actions_text.safetensors " + STEPS,
        "'num_actions' must be a whole number",
        "metadata: num_actions as text",
    ),
    Case(
        "collect --expert {w}/edited/num_actions_bool.safetensors " + STEPS,
        "'num_actions' must be a whole number",
        "metadata: num_actions true",
    ),
    Case(
        "collect --expert {w}/edited/num_actions_huge.safetensors " + STEPS,
        "between 1 and 18",
        "metadata: 10**9 actions",
    ),
    Case(
        "collect --expert {w}/edited/games_text.safetensors " + STEPS,
        "'games' must be a non-empty list",
        "metadata: games as text",
    ),
    Case(
        "collect --expert {w}/edited/games_not_canonical.safetensors " + STEPS,
        "not an ale-py ROM id",
        "metadata: a game spelt Breakout",
    ),
    Case(
        "collect --expert {w}/edited/action_ids_out_of_range.safetensors " + STEPS,
        "ids outside 0..17",
        "metadata: ALE action 99",
    ),
    Case(
        "collect --expert {w}/edited/action_sets_list.safetensors " + STEPS,
        "must name the same games",
        "metadata: action_sets as a list",
    ),
    Case(
        "collect --expert {w}/edited/frame_skip_text.safetensors " + STEPS,
        "frame_skip must be a whole number",
        "metadata: frame_skip as text",
    ),
    Case(
        "collect --expert {w}/edited/screen_size_huge.safetensors " + STEPS,
        "screen_size must be between 8 and 256",
        "metadata: a 10**6-pixel screen",
    ),
    Case(
        "collect --expert {w}/edited/sticky_nan.safetensors " + STEPS,
        "must be a finite number",
        "metadata: sticky actions NaN",
    ),
    Case(
        "collect --expert {w}/edited/atari_unknown_key.safetensors " + STEPS,
        "unknown Atari settings ['colour']",
        "metadata: an unknown Atari setting",
    ),
    Case(
        "collect --expert {w}/edited/atari_names_game.safetensors " + STEPS,
        "must not name the game",
        "metadata: the game inside the Atari settings",
    ),
    Case(
        "collect --expert {w}/edited/atari_list.safetensors " + STEPS,
        "'atari' must be an object",
        "metadata: Atari settings as a list",
    ),
    Case("collect --expert {w}/edited/missing_kind.safetensors " + STEPS, "lacks ['kind']", "metadata: no kind"),
    Case(
        "collect --expert {w}/edited/missing_atari.safetensors " + STEPS,
        "lacks ['atari']",
        "metadata: no Atari settings",
    ),
    Case(
        "collect --expert {w}/edited/kind_unknown.safetensors " + STEPS, "kind must be one of", "metadata: kind teacher"
    ),
    Case(
        "collect --expert {w}/edited/architecture_unknown.safetensors " + STEPS,
        "unknown architecture 'resnet'",
        "metadata: an unknown architecture",
    ),
    Case(
        "collect --expert {w}/edited/format_version_text.safetensors " + STEPS,
        "not a version number",
        "metadata: format_version as text",
    ),
    Case(
        "collect --expert {w}/edited/format_version_newer.safetensors " + STEPS,
        "upgrade actor-mimic",
        "metadata: a newer format version",
    ),
    Case(
        "collect --expert {w}/edited/provenance_list.safetensors " + STEPS,
        "'provenance' must be an object",
        "metadata: provenance as a list",
    ),
    Case(
        "collect --expert {w}/edited/unknown_field.safetensors " + STEPS,
        "unknown fields ['colour']",
        "metadata: an unknown field",
    ),
    Case(
        "collect --expert {w}/edited/json_array.safetensors " + STEPS,
        "not an actor-mimic checkpoint",
        "metadata: a JSON array",
    ),
    Case(
        "collect --expert {w}/edited/not_json.safetensors " + STEPS,
        "its metadata is not valid JSON",
        "metadata: not JSON",
    ),
    # --- amn dataset: stores that today's readers already refuse --------------------------
    Case("dataset info {w}/nowhere.zarr", "teacher store {w}/nowhere.zarr does not exist", "a missing store"),
    Case("dataset info {w}/notes.txt", "neither a Zarr directory nor an HDF5 file", "a text file as a store"),
    Case("dataset info {w}/fake.h5", "neither a Zarr directory nor an HDF5 file", "a text file named .h5"),
    Case("dataset info {w}/folder", "cannot open as a Zarr store", "a folder of other files"),
    Case("dataset info {w}/stores/schema_newer.zarr", "newer than this actor-mimic reads", "a newer store schema"),
    Case(
        "dataset info {w}/stores/not_a_store.zarr", "not an actor-mimic teacher store", "a Zarr group of another schema"
    ),
    Case(
        "dataset info {w}/stores/game_unknown.zarr",
        "store attribute 'game' is 'brakeout', a game the installed ALE does not ship",
        "a store edited to a game ALE does not ship",
    ),
    Case(
        "dataset info {w}/stores/action_set_reordered.zarr",
        "'action_set' is [1, 0, 3, 4], not breakout's minimal action set [0, 1, 3, 4] in ALE order",
        "a store edited to reorder its action set",
    ),
    Case(
        "dataset info {w}/stores/document_edited.zarr",
        "its attribute document was edited after it was written",
        "a store whose document was edited by hand",
    ),
    Case("dataset frobnicate {w}/store.zarr", "invalid choice: 'frobnicate'", "an unknown dataset action"),
    # --- amn dataset push / pull ----------------------------------------------------------
    Case(
        "dataset pull --no-progress nosuch://x/s.zarr {w}/out",
        "unknown protocol nosuch://",
        "pull: an unknown protocol",
    ),
    Case(
        "dataset pull --no-progress abfs://c/s.zarr {w}/out",
        "needs adlfs (pip install adlfs)",
        "pull: the filesystem's package is not installed",
    ),
    Case("dataset pull --no-progress {w}/store.zarr {w}/out", "is not a URL", "pull: a local path as the URL"),
    Case(
        "dataset pull --no-progress --digest sha256:abc file://{w}/store.zarr {w}/out",
        "give the store's digest as `amn dataset info` prints it, sha256:<64 hex>",
        "pull: a malformed --digest",
    ),
    Case(
        "dataset pull --no-progress --digest sha256:" + "0" * 64 + " file://{w}/store.zarr {w}/out",
        "you asked for (its document and chunk checksums, before fetching the chunks)",
        "pull: a store whose digest is not the one asked for",
    ),
    Case(
        "dataset pull --no-progress file://{w}/nowhere.zarr {w}/out",
        "teacher store {w}/nowhere.zarr does not exist",
        "pull: nothing at the URL",
    ),
    Case(
        "dataset pull --no-progress file://{w}/store.zarr {w}/rounds/.. --overwrite",
        "is the source store",
        "pull: a store onto itself, with --overwrite",
    ),
    Case(
        "dataset pull --no-progress file://{w}/store.zarr {w}/notes.txt",
        "is a file; it must name a folder",
        "pull: DIR is a file",
    ),
    Case(
        "dataset pull --no-progress file://{w}/folder {w}/out --overwrite",
        "cannot open as a Zarr store",
        "pull: a folder that is not a store",
    ),
    Case(
        "dataset pull --no-progress http://127.0.0.1:9/a/.. {w}/out",
        "refusing the file name '..'",
        "pull: a URL whose name leaves the folder",
    ),
    Case(
        "dataset push --no-progress {w}/store.zarr http://127.0.0.1:9/s.zarr",
        "http(s) URLs are read-only",
        "push: to an HTTP URL",
    ),
    Case("dataset push --no-progress {w}/store.zarr {w}/out/s.zarr", "is not a URL", "push: a local path as the URL"),
    Case(
        "dataset push --no-progress {w}/store.zarr nosuch://x/s.zarr",
        "unknown protocol nosuch://",
        "push: an unknown protocol",
    ),
    Case(
        "dataset push --no-progress {w}/nowhere.zarr file://{w}/out/s.zarr",
        "teacher store {w}/nowhere.zarr does not exist",
        "push: a missing store",
    ),
    Case(
        "dataset push --no-progress {w}/store.zarr file://{w}/out/s.h5",
        "keeps its suffix",
        "push: a Zarr store to a .h5 URL",
    ),
    Case(
        "dataset push --no-progress {w}/store.zarr file://{w}/folder --overwrite",
        "holds files that are not part of this store",
        "push: over a folder of other files, with --overwrite",
    ),
    Case(
        "dataset push --no-progress {w}/stores/not_a_store.zarr file://{w}/out/s.zarr",
        "not an actor-mimic teacher store",
        "push: a Zarr group of another schema",
    ),
    # --- amn dataset merge / export-minari -------------------------------------------------
    Case("dataset merge {w}/out/m.zarr {w}/store.zarr", "merge needs two stores or more", "merge: one store"),
    Case("dataset merge {w}/out/m.zarr {w}/store.zarr {w}/store.zarr", "is given twice", "merge: a store twice"),
    Case(
        "dataset merge {w}/out/m.zarr {w}/store.zarr {w}/rounds/breakout-r1.zarr",
        "hold the same collection",
        "merge: a copy of a store (the same steps twice)",
    ),
    Case(
        "dataset merge {w}/out/m.zarr {w}/store.zarr {w}/stores/frame_skip_3.zarr",
        "differ in atari.frame_skip",
        "merge: stores of another frame skip",
    ),
    Case(
        "dataset merge {w}/out/m.zarr {w}/store.zarr {w}/nowhere.zarr",
        "nowhere.zarr does not exist",
        "merge: a missing store",
    ),
    Case(
        "dataset merge {w}/store.zarr {w}/rounds/breakout-r1.zarr {w}/stores/frame_skip_3.zarr",
        "already exists: pass --overwrite",
        "merge: OUT an existing store, without --overwrite",
    ),
    Case(
        "dataset merge {w}/folder {w}/store.zarr {w}/rounds/breakout-r1.zarr --overwrite",
        "exists and is not a teacher store",
        "merge: OUT a folder of other files, with --overwrite",
    ),
    Case(
        "dataset merge {w}/store.zarr/m.zarr {w}/store.zarr {w}/rounds/breakout-r1.zarr",
        "lies inside it",
        "merge: OUT inside an input",
    ),
    Case(
        "dataset export-minari {w}/store.zarr 'not an id!' --data-path {w}/out/minari",
        "is not a Minari dataset id",
        "export-minari: a malformed dataset id",
    ),
    Case(
        "dataset export-minari {w}/store.zarr breakout-v0 --data-path {w}/notes.txt",
        "is a file; it must name a folder",
        "export-minari: a file as the datasets folder",
    ),
    Case(
        "dataset export-minari {w}/store.zarr breakout --data-path {w}/out/minari",
        "is not a Minari dataset id",
        "export-minari: a dataset id without its version",
    ),
    Case(
        "dataset export-minari {w}/store.zarr theirs-v0 --data-path {w}/minari --overwrite",
        "exists and is not a Minari dataset written by actor-mimic",
        "export-minari: a folder of other files as the dataset",
    ),
    Case(
        "dataset export-minari {w}/nowhere.zarr breakout-v0 --data-path {w}/out/minari",
        "does not exist",
        "export-minari: a missing store",
    ),
    # --- amn checkpoint -------------------------------------------------------------------
    Case("checkpoint info {w}/nope.safetensors", "does not exist", "info of a missing file"),
    Case("checkpoint info ''", "a checkpoint path is empty", "info of an empty path"),
    Case("checkpoint info {w}/folder", "is a folder", "info of a folder"),
    Case("checkpoint info {w}/pickle.safetensors", "not a readable safetensors checkpoint", "info of a renamed pickle"),
    Case(
        "checkpoint info {w}/edited/num_actions_bool.safetensors",
        "'num_actions' must be a whole number",
        "info of edited metadata",
    ),
    Case(
        "checkpoint init --game pongg --out {w}/out/p.safetensors", "unknown Atari game 'pongg'", "init: unknown game"
    ),
    Case(
        "checkpoint init --game pong --out {w}/expert.safetensors",
        "already exists: pass --overwrite",
        "init over a checkpoint without --overwrite",
    ),
    Case(
        "checkpoint init --game pong --out {w}/notes.txt --overwrite",
        "name must end in .safetensors",
        "init over a text file",
    ),
    Case(
        "checkpoint init --game pong --out {w}/garbage.safetensors --overwrite",
        "exists and is not a checkpoint written by actor-mimic",
        "init over a non-checkpoint .safetensors",
    ),
    Case(
        "checkpoint init --game pong --out {w}/folder.safetensors --overwrite",
        "is a folder; it must name a checkpoint file",
        "init into a folder named .safetensors",
    ),
    Case("checkpoint init --game pong --out ''", "--out is empty", "init with an empty --out"),
    Case(
        "checkpoint init --game pong --out /sys/amn-test/p.safetensors",
        "cannot write in /sys",
        "init where nobody may write",
    ),
    Case(
        "checkpoint init --game pong --out {w}/out/p.safetensors --seed -1",
        "--seed must be between 0 and",
        "init with a negative seed",
    ),
    Case(
        "checkpoint init --game pong --out {w}/out/p.safetensors --architecture resnet",
        "invalid choice: 'resnet'",
        "init with an unknown architecture",
    ),
    Case(
        "checkpoint init --out {w}/out/p.safetensors",
        "the following arguments are required: --game",
        "init without a game",
    ),
    Case(
        "checkpoint import-cleanrl {w}/hostile_cleanrl.pt --game pong --out {w}/out/p.safetensors",
        "not a plain tensor state dict",
        "import a pickle that runs code",
    ),
    Case(
        "checkpoint import-cleanrl {w}/nope.pt --game pong --out {w}/out/p.safetensors",
        "cannot read",
        "import a missing file",
    ),
    Case(
        "checkpoint import-cleanrl {w}/cleanrl_pong.pt --game breakout --out {w}/out/p.safetensors",
        "has 6 outputs but breakout has 4 actions",
        "import a Pong network as Breakout",
    ),
    Case(
        "checkpoint import-cleanrl {w}/cleanrl_pong.pt --game pong --out {w}/expert.safetensors",
        "already exists: pass --overwrite",
        "import over a checkpoint without --overwrite",
    ),
    Case(
        "checkpoint import-sb3 {w}/notes.txt --game pong --out {w}/out/p.safetensors",
        "not a Stable-Baselines3 model zip",
        "import-sb3 of a text file",
    ),
    Case(
        "checkpoint import-sb3 {w}/no_policy.zip --game pong --out {w}/out/p.safetensors",
        "not a Stable-Baselines3 model zip",
        "import-sb3 of a zip without policy.pth",
    ),
    Case(
        "checkpoint import-sb3 {w}/sac.zip --game pong --out {w}/out/p.safetensors",
        "import-sb3 reads DQN, QR-DQN (sb3-contrib), PPO and A2C with the default CnnPolicy",
        "import-sb3 of an unsupported kind of agent (SAC)",
    ),
    Case(
        "checkpoint import-cleanrl {w}/flax_other.cleanrl_model --game pong --out {w}/out/p.safetensors",
        "no floating-point Conv_0/kernel weights",
        "import-cleanrl of a Flax file of another network",
    ),
    Case(
        "checkpoint info {w}/edited/outputs_unknown.safetensors",
        "'outputs' must be one of q_values, logits",
        "info of a checkpoint whose outputs are neither Q-values nor logits",
    ),
    Case(
        "checkpoint info {w}/edited/sampling_q_values.safetensors",
        "'acting' must be greedy for a network whose outputs are Q-values",
        "info of a Q-value expert said to sample",
    ),
    Case(
        "checkpoint import-sb3 {w}/no_policy.zip --game pong --out {w}/out/p.safetensors --sticky-actions 1.5",
        "repeat_action_probability must lie in [0, 1)",
        "import with sticky actions 1.5",
    ),
    # --- amn evaluate ---------------------------------------------------------------------
    Case("evaluate --no-progress", "nothing to evaluate", "no policy"),
    Case("evaluate --amn ''", "--amn is empty", "an empty --amn"),
    Case("evaluate --amn {w}/expert.safetensors", "but --amn takes amn checkpoints", "an expert as the AMN"),
    Case("evaluate --experts {w}/amn.safetensors", "but --experts takes expert checkpoints", "an AMN as an expert"),
    Case(
        "evaluate --experts {w}/expert.safetensors {w}/expert.safetensors",
        "two experts for breakout",
        "two experts for one game",
    ),
    Case(f"{EVALUATE} --games space_invaders", "cannot evaluate space_invaders", "a game the AMN never learnt"),
    Case(f"{EVALUATE} --device cuda", "this machine has no CUDA device", "an absent GPU"),
    Case(f"{EVALUATE} --device tpu", "is not a device", "an unknown device"),
    Case(f"{EVALUATE} --acting often", "invalid choice: 'often'", "an unknown way for a logit teacher to act"),
    Case(f"{EVALUATE} --num-envs 10000", "--num-envs must be between 1 and 256", "10000 environments"),
    Case(f"{EVALUATE} --steps 0", "--steps must be between 1 and", "a zero step budget"),
    Case(f"{EVALUATE} --episodes 0", "--episodes must be between 1 and", "zero episodes"),
    Case(f"{EVALUATE} --episodes 100000000000000000000", "--episodes must be between 1 and", "10**20 episodes"),
    Case(f"{EVALUATE} --epsilon 2", "--epsilon must lie in [0, 1]", "epsilon 2"),
    Case(f"{EVALUATE} --seed -1", "--seed must be between 0 and", "a negative seed"),
    Case(f"{EVALUATE} --video-steps 0", "--video-steps must be between 1 and", "GIFs of zero steps"),
    Case(f"{EVALUATE} --out {{w}}/notes.txt", "is a file; it must name a folder", "a file as the results folder"),
    Case(
        f"{EVALUATE} --out {{w}}/results",
        "is not an evaluation table written by actor-mimic",
        "results folder with someone else's evaluation.csv",
    ),
    Case(
        f"{EVALUATE} --out {{w}}/results --overwrite",
        "is not an evaluation table written by actor-mimic",
        "the same, with --overwrite",
    ),
    Case(f"{COLLECT} --out {{w}}/folder --steps 10", "exists and is not a teacher store", "a folder with other files"),
    Case(
        "checkpoint init --game pong --out {w}/garbage.safetensors",
        "exists and is not a checkpoint",
        "init over a non-checkpoint .safetensors, without --overwrite",
    ),
    Case(
        "evaluate --amn {w}/amn64.safetensors --experts {w}/expert.safetensors",
        "trained on other observations",
        "an AMN and an expert with other preprocessing",
    ),
    # --- amn distill ----------------------------------------------------------------------
    Case("distill fit --config {w}/nowhere.yaml", "nowhere.yaml", "a missing config"),
    Case("distill fit --config {w}/list.yaml", "Unexpected config", "a config that is a YAML list"),
    Case(f"{FIT} --model.bogus 1", "unrecognized arguments: --model.bogus", "an unknown config key"),
    Case(
        f"{FIT} --data.batch_size abc", "Expected a <class 'int'>. Got value: abc", "a batch size that is not a number"
    ),
    Case(f"{FIT} --data.batch_size 1000000000", "data.batch_size must be between 1 and", "a batch of 10**9"),
    Case(f"{FIT} --data.batch_size 1000000 --data.num_workers 8", "of memory, but", "a batch larger than memory"),
    Case(f"{FIT} --data.num_workers 10000", "data.num_workers must be between 0 and", "10000 loader workers"),
    Case(f"{FIT} --data.val_fraction 1.5", "data.val_fraction must lie in [0, 1)", "a validation fraction of 1.5"),
    Case(f"{FIT} --data.seed -1", "data.seed must be between 0 and", "a negative data seed"),
    Case(f"{FIT} --seed_everything -1", "seed_everything must be between 0 and", "a negative seed_everything"),
    Case(f"{FIT} --model.tau nan", "model.tau\": Expected a <class 'float'>. Got value: nan", "temperature NaN"),
    Case(f"{FIT} --model.tau 0", "tau must be positive", "temperature 0"),
    Case(f"{FIT} --model.logit_tau 0", "logit_tau must be positive", "logit teachers' temperature 0"),
    Case(f"{FIT} --model.architecture resnet", "unknown architecture 'resnet'", "an unknown architecture"),
    Case(f"{FIT} --torch_threads 0", "torch_threads must be between 1 and", "zero torch threads"),
    Case(f"{FIT} --trainer.accelerator gpu", "No supported gpu backend found", "trainer.accelerator gpu without a GPU"),
    Case(
        f"{FIT} --trainer.accelerator cuda",
        "`CUDAAccelerator` can not run on your system",
        "trainer.accelerator cuda without one",
    ),
    Case(
        f"{FIT} --trainer.devices 64 --trainer.accelerator cpu",
        "trainer.devices must be between -1 and",
        "64 CPU processes (each reruns the command)",
    ),
    Case(f"{FIT} --trainer.num_nodes 4", "outside a cluster job", "4 nodes on one machine (would wait forever)"),
    Case(
        f"{FIT} --trainer.default_root_dir {{w}}/notes.txt",
        "is a file; it must name a folder",
        "a file as the log folder",
    ),
    Case(
        f"{FIT} --export.path {{w}}/expert.safetensors",
        "pass --export.overwrite true to replace it",
        "an export over an existing checkpoint",
    ),
    Case(
        f"{FIT} --export.path {{w}}/notes.txt --export.overwrite true",
        "name must end in .safetensors",
        "an export over a text file",
    ),
    Case(f"{FIT} --ckpt_path {{w}}/nope.ckpt", "Lightning checkpoint does not exist", "a missing --ckpt_path"),
    Case(f"{FIT} --ckpt_path {{w}}/folder", "is a folder, not a Lightning checkpoint", "a folder as --ckpt_path"),
    Case(f"{FIT} --ckpt_path http://127.0.0.1:9/x.ckpt", "is a URL", "a URL as --ckpt_path"),
    Case(f"{FIT} --ckpt_path {{w}}/hostile.ckpt", "only unpickling code could rebuild", "a checkpoint that runs code"),
    Case(
        f"{FIT} --ckpt_path {{w}}/plain.ckpt", "not a checkpoint written by Lightning", "a torch file of other contents"
    ),
    Case(
        f"{FIT} --ckpt_path {{w}}/expert.safetensors",
        "not a checkpoint written by Lightning",
        "a safetensors file as --ckpt_path",
    ),
    Case(
        f"{FIT} --ckpt_path {{w}}/step_text.ckpt",
        "its global_step '3' is not a count",
        "a checkpoint with a damaged step",
    ),
    Case(
        f"{FIT} --ckpt_path {{w}}/tasks.ckpt",
        "does not fit the model of this config",
        "a checkpoint of another model (no weights)",
    ),
    Case(
        "distill validate --config {w}/fit.yaml --ckpt_path {w}/tasks.ckpt",
        "does not fit the model of this config",
        "validate a checkpoint of another model",
    ),
    Case(
        "distill validate --config {w}/fit.yaml --ckpt_path {w}/hostile.ckpt",
        "only unpickling code could rebuild",
        "validate from a checkpoint that runs code",
    ),
    Case("distill fit --config {w}/other_game.yaml", "holds breakout, not pong", "a store under the wrong game"),
    Case(
        "distill fit --config {w}/unknown_game.yaml", "unknown Atari game 'breakoot'", "an unknown game in the config"
    ),
    Case("distill fit --config {w}/missing_store.yaml", "nowhere.zarr does not exist", "a missing store in the config"),
    Case(
        "distill fit --config {w}/file_store.yaml",
        "neither a Zarr directory nor an HDF5 file",
        "a text file as a store",
    ),
    Case("distill fit --config {w}/actions_differ.yaml", "action_set", "stores of one game with other action sets"),
    Case("distill fit --config {w}/preprocessing_differs.yaml", "preprocessing", "stores with other preprocessing"),
    Case(f"{EXPORT} --out {{w}}/expert.safetensors", "already exists: pass --overwrite", "export over a checkpoint"),
    Case(f"{EXPORT} --out {{w}}/notes.txt --overwrite", "name must end in .safetensors", "export over a text file"),
    Case(
        "distill export {w}/plain.ckpt --out {w}/out/a.safetensors",
        "not a checkpoint written by Lightning",
        "export of a torch file of other contents",
    ),
    Case("distill export {w}/nope.ckpt --out {w}/out/a.safetensors", "does not exist", "export of a missing file"),
    Case(
        "distill export {w}/hostile.ckpt --out {w}/out/a.safetensors",
        "only unpickling code could rebuild",
        "export of a checkpoint that runs code",
    ),
    Case(
        f"{ROUND.replace('--more_steps 5', '--more_steps 0')}",
        "--more_steps must be between 1 and",
        "a round of 0 steps",
    ),
    Case(f"{ROUND.replace('--round r1', '--round ../up')}", "must be a plain label", "a round label naming a path"),
    Case(
        f"{ROUND.replace('--out_dir {w}/out/round', '--out_dir {w}/notes.txt')}",
        "is a file; it must name a folder",
        "a file as the round folder",
    ),
    Case(
        f"{ROUND.replace('--out_dir {w}/out/round', '--out_dir {w}/rounds')}",
        "breakout-r1.zarr already exists: choose another --round or --out_dir",
        "a round whose store exists",
    ),
    # --- amn train-dqn --------------------------------------------------------------------
    Case(
        "train-dqn --no-progress --game breakoot --run-dir {w}/out/run", "unknown Atari game 'breakoot'", "unknown game"
    ),
    Case(f"{TRAIN} --steps 0", "--steps must be between 1 and", "zero steps"),
    Case(f"{TRAIN} --steps 100000000000000000000", "--steps must be between 1 and", "--steps 10**20"),
    Case(f"{TRAIN} --seed -1", "--seed must be between 0 and", "a negative seed"),
    Case(f"{TRAIN} --num-envs 10000", "--num-envs must be between 1 and 256", "10000 environments"),
    Case(
        f"{TRAIN} --eval-num-envs 10000", "--eval-num-envs must be between 1 and 256", "10000 evaluation environments"
    ),
    Case(
        f"{TRAIN} --replay-capacity 10000000000",
        "the replay memory of --replay-capacity 10000000000 needs",
        "a replay memory of 10**10 steps",
    ),
    Case(f"{TRAIN} --batch-size 1000000000", "exceeds --replay-capacity", "a batch of 10**9"),
    Case(f"{TRAIN} --learning-rate nan", "--learning-rate must be a finite number", "learning rate NaN"),
    Case(f"{TRAIN} --discount 2", "--discount must lie in [0, 1]", "discount 2"),
    Case(f"{TRAIN} --eval-every 0", "--eval-every must be between 1 and", "evaluating every 0 steps"),
    Case(f"{TRAIN} --eval-steps -1", "--eval-steps must be between 1 and", "negative evaluation steps"),
    Case(f"{TRAIN} --checkpoint-minutes 0", "--checkpoint-minutes must be positive", "checkpoints every 0 minutes"),
    Case(f"{TRAIN} --max-wall-minutes -1", "--max-wall-minutes must be 0 or more", "a negative time limit"),
    Case(f"{TRAIN} --optimizer sgd", "--optimizer must be one of", "an unknown optimiser"),
    Case(f"{TRAIN} --final-eval-steps 0", "--final-eval-steps must be between 1 and", "a final evaluation of 0 steps"),
    Case(f"{TRAIN} --export {{w}}/notes.txt", "name must end in .safetensors", "export to a text file"),
    Case(f"{TRAIN} --export {{w}}/expert.safetensors", "already exists: pass --overwrite", "export over a checkpoint"),
    Case(f"{TRAIN} --export {{w}}/folder.safetensors --overwrite", "is a folder", "export into a folder"),
    Case(
        "train-dqn --no-progress --game breakout --run-dir {w}/notes.txt",
        "is a file; it must name a folder",
        "a file as the run folder",
    ),
    Case(
        "train-dqn --no-progress --game breakout --run-dir {w}/killed_run",
        "of a run that saved no checkpoint",
        "a run folder with another run's logs",
    ),
    Case(
        "train-dqn --no-progress --run-dir {w}/damaged_run --resume", "state.json", "--resume of a damaged state.json"
    ),
    Case(f"{TRAIN} --init {{w}}/expert.safetensors", "--init needs an AMN checkpoint", "--init with an expert"),
    Case(f"{TRAIN} --init {{w}}/amn64.safetensors", "preprocessing differs", "--init with another preprocessing"),
    Case(f"{TRAIN} --init {{w}}/pickle.safetensors", "not a readable safetensors checkpoint", "--init with a pickle"),
    Case(f"{TRAIN} --fresh-head", "--fresh-head only applies with --init", "--fresh-head alone"),
    Case(f"{TRAIN} --torch-threads 100000", "--torch-threads must be between 1 and", "100000 torch threads"),
    Case(f"{TRAIN} --max-episode-frames 0", "max_episode_frames must be between 1 and", "episodes of 0 frames"),
    Case(f"{TRAIN} --sticky-actions 1", "repeat_action_probability must lie in [0, 1)", "sticky actions always on"),
    # --- amn transfer ---------------------------------------------------------------------
    Case(
        f"{TRANSFER} --amn {{w}}/expert.safetensors", "an AMN checkpoint (kind 'amn') is needed", "an expert as the AMN"
    ),
    Case(f"{TRANSFER} --amn {{w}}/nope.safetensors", "does not exist", "a missing AMN"),
    Case(f"{TRANSFER} --amn ../up={{w}}/amn.safetensors", "must be a plain name", "a label naming a path"),
    Case(
        f"{TRANSFER} --amn random={{w}}/amn.safetensors", "'random' names the random-init baseline", "the label random"
    ),
    Case(f"{TRANSFER} --amn {{w}}/amn64.safetensors", "preprocessing differs", "an AMN with other preprocessing"),
    Case(f"{TRANSFER} --amn {{w}}/amn.safetensors --seeds 0 0", "repeats a seed", "a repeated seed"),
    Case(f"{TRANSFER} --amn {{w}}/amn.safetensors --seeds -1", "--seeds must be between 0 and", "a negative seed"),
    Case(
        f"{TRANSFER} --amn {{w}}/amn.safetensors --block-size 0",
        "--block-size must be between 1 and",
        "blocks of 0 steps",
    ),
    Case(f"{TRANSFER} --no-random", "--no-random without --amn leaves nothing to train", "no AMN and no baseline"),
    Case(
        f"{TRANSFER} --amn {{w}}/amn.safetensors --steps 100 --eval-every 1000",
        "nothing would be evaluated",
        "evaluations after the budget",
    ),
    Case(
        "transfer --no-progress --game breakout --out-dir {w}/notes.txt --amn {w}/amn.safetensors",
        "is a file; it must name a folder",
        "a file as the experiment folder",
    ),
    # --- settings files: --config FILE.yaml of the argparse commands -----------------------
    Case(
        f"{EVALUATE} --config {{w}}/settings/typo.yaml",
        "unknown setting 'num_env': did you mean num_envs?",
        "evaluate: a misspelt key in the settings file",
    ),
    Case(
        f"{EVALUATE} --config {{w}}/settings/steps_text.yaml",
        "steps: invalid int value: 'many'",
        "evaluate: a step count that is not a number in the file",
    ),
    Case(
        f"{EVALUATE} --config {{w}}/nowhere.yaml",
        "--config {w}/nowhere.yaml does not exist",
        "evaluate: a missing settings file",
    ),
    Case(
        f"{EVALUATE} --config {{w}}/folder", "--config {w}/folder is not a file", "evaluate: a folder as settings file"
    ),
    Case(
        f"{EVALUATE} --config {{w}}/settings/not_yaml.yaml",
        "is not valid YAML",
        "evaluate: a settings file of bad YAML",
    ),
    Case(
        f"{EVALUATE} --config {{w}}/list.yaml",
        "must hold `key: value` settings, not a list",
        "evaluate: a settings file that is a YAML list",
    ),
    Case(
        f"{EVALUATE} --config {{w}}/settings/many_envs.yaml",
        "--num-envs must be between 1 and 256",
        "evaluate: 10000 environments from the file (checked like the flag)",
    ),
    Case(
        f"{EVALUATE} --config {{w}}/settings/both_budgets.yaml",
        "must be a single value",
        "evaluate: a list where one value goes",
    ),
    Case(
        "checkpoint init --config {w}/settings/init_typo.yaml",
        "unknown setting 'gamee': did you mean game?",
        "init: a misspelt key in the settings file",
    ),
    Case(
        "checkpoint init --config {w}/settings/seed_text.yaml",
        "seed: invalid int value: 'three'",
        "init: a seed that is not a number in the file",
    ),
    Case(
        "checkpoint init --game pong --out {w}/out/p.safetensors --config {w}/nowhere.yaml",
        "does not exist",
        "init: a missing settings file",
    ),
    Case(
        "checkpoint init --config {w}/settings/empty.yaml",
        "the following arguments are required: --game",
        "init: no game in the file or the flags",
    ),
    Case(
        "checkpoint import-cleanrl {w}/cleanrl_pong.pt --config {w}/settings/sticky_text.yaml",
        "sticky_actions: invalid float value: 'often'",
        "import: sticky actions not a number in the file",
    ),
    Case(
        "checkpoint import-sb3 {w}/no_policy.zip --config {w}/settings/path_key.yaml",
        "unknown setting 'path'",
        "import: the positional file as a settings key",
    ),
    Case(
        "dataset info {w}/store.zarr --config {w}/settings/json_text.yaml",
        "json must be true or false",
        "dataset info: a switch that is not true/false in the file",
    ),
    Case(
        "dataset verify {w}/store.zarr --config {w}/settings/verify_typo.yaml",
        "did you mean allow_incomplete?",
        "dataset verify: a misspelt key in the settings file",
    ),
    Case(
        "dataset card {w}/store.zarr --config {w}/settings/license_list.yaml",
        "license must be a single value",
        "dataset card: two licenses in the file",
    ),
    Case(
        "dataset card {w}/store.zarr --config {w}/settings/license_only.yaml",
        "pass them with --write",
        "dataset card: a license from the file without write",
    ),
    Case(
        "dataset convert {w}/store.zarr {w}/out/c.h5 --config {w}/settings/chunk_text.yaml",
        "chunk_len: invalid int value: '1k'",
        "dataset convert: a chunk length not a number in the file",
    ),
    Case(
        "dataset convert {w}/store.zarr {w}/out/c.h5 --config {w}/nowhere.yaml",
        "does not exist",
        "dataset convert: a missing settings file",
    ),
    Case(
        "dataset push {w}/store.zarr memory://s.zarr --config {w}/settings/push_typo.yaml",
        "unknown setting 'progres': did you mean progress?",
        "dataset push: a misspelt key in the settings file",
    ),
    Case(
        "dataset pull memory://s.zarr {w}/out --config {w}/list.yaml",
        "not a list",
        "dataset pull: a settings file that is a YAML list",
    ),
    Case(
        "dataset merge {w}/out/m.zarr {w}/store.zarr {w}/rounds/breakout-r1.zarr --config {w}/settings/bool_text.yaml",
        "overwrite must be true or false",
        "dataset merge: a switch that is not true/false in the file",
    ),
    Case(
        "dataset export-minari {w}/store.zarr breakout-v0 --config {w}/settings/minari_typo.yaml",
        "unknown setting 'author_mail': did you mean author_email?",
        "dataset export-minari: a misspelt key in the settings file",
    ),
    # --- amn diagnose ---------------------------------------------------------------------
    Case("diagnose play --out {w}/out/diagnosis", "required: --student", "no student to diagnose"),
    Case("diagnose play --student '' --out {w}/out/diagnosis", "--student is empty", "an empty --student"),
    Case("diagnose play --student {w}/amn.safetensors", "required: --out", "no diagnosis folder"),
    Case(f"{DIAGNOSE} --experts {{w}}/amn.safetensors", "--experts takes expert checkpoints", "an AMN as a teacher"),
    Case(
        f"{DIAGNOSE} --experts {{w}}/expert.safetensors {{w}}/expert.safetensors",
        "two experts for breakout",
        "two teachers for one game",
    ),
    Case(
        "diagnose play --student {w}/expert.safetensors --experts {w}/pong.safetensors --out {w}/out/diagnosis",
        "which the student does not play",
        "a teacher of another game than the student's",
    ),
    Case(
        "diagnose play --student {w}/amn64.safetensors --experts {w}/expert.safetensors --out {w}/out/diagnosis",
        "was trained on other observations than",
        "a teacher that sees other observations",
    ),
    Case(f"{DIAGNOSE} --games space_invaders", "cannot diagnose space_invaders", "a game the student does not play"),
    Case(f"{DIAGNOSE} --before-death 0", "--before-death must be between 1 and 1000", "no states kept before a death"),
    Case(f"{DIAGNOSE} --bins 0", "--bins must be between 1 and 1000", "zero bins"),
    Case(f"{DIAGNOSE} --tau 0", "--tau must be positive", "a zero temperature"),
    Case(f"{DIAGNOSE} --steps 10 --episodes 2", "not allowed with argument", "two budgets"),
    Case(f"{DIAGNOSE} --nearest", "--nearest searches teacher stores: give them with --stores", "--nearest, no stores"),
    Case(
        "diagnose play --student {w}/pong.safetensors --stores {w}/store.zarr --out {w}/out/diagnosis",
        "is a teacher store of breakout, which this diagnosis does not play",
        "a store of another game",
    ),
    Case(
        "diagnose play --student {w}/expert.safetensors --stores {w}/stores/frame_skip_3.zarr --out {w}/out/d",
        "holds other observations than the student's (frame_skip 4 vs 3)",
        "a store of other observations",
    ),
    Case(f"{DIAGNOSE} --stores {{w}}/notes.txt", "is neither a Zarr directory nor an HDF5 file", "a file as a store"),
    Case(
        "diagnose play --student {w}/amn.safetensors --out {w}/notes.txt",
        "is a file; it must name a folder",
        "a file as the diagnosis folder",
    ),
    Case("diagnose lookup --stores {w}/store.zarr", "required: --diagnosis", "a lookup of no diagnosis"),
    Case(
        "diagnose lookup --diagnosis {w}/empty --stores {w}/store.zarr",
        "holds no diagnosis of breakout",
        "a lookup in a folder no diagnosis wrote",
    ),
    Case(f"{DQN_DIAGNOSIS} {{w}}/killed_run", "holds no DQN run", "a DQN diagnosis of a folder without a run"),
    Case(f"{DQN_DIAGNOSIS} {{w}}/damaged_run", "not what a learner saves", "a run whose state was edited"),
    Case(f"{DQN_DIAGNOSIS} {{w}}/killed_run --every 0", "--every must be between 1 and", "records every 0 updates"),
    Case(
        f"{DQN_DIAGNOSIS} {{w}}/killed_run --steps 100 --export-at 200",
        "--export-at 200 lies past --steps 100",
        "an export after the replay ends",
    ),
    Case(
        f"{FIT} --model.compile nosuch",
        "model.compile 'nosuch' is not a torch.compile backend",
        "distill fit: an unknown torch.compile backend",
    ),
    # --- amn dataset build: the plan ------------------------------------------------------
    Case("dataset build {w}/nowhere.yaml", "nowhere.yaml does not exist", "dataset build: a missing plan"),
    Case(
        "dataset build {w}/plans/list.yaml", "must be a mapping with out, games", "dataset build: a plan that is a list"
    ),
    Case("dataset build {w}/plans/no_out.yaml", "out is required", "dataset build: a plan without out"),
    Case("dataset build {w}/plans/no_games.yaml", "games must be a list", "dataset build: a plan without games"),
    Case("dataset build {w}/plans/key_typo.yaml", "unknown key 'output'", "dataset build: a misspelt plan key"),
    Case(
        "dataset build {w}/plans/setting_typo.yaml",
        "games[0]: unknown setting 'step': did you mean steps?",
        "dataset build: a misspelt collect setting",
    ),
    Case("dataset build {w}/plans/no_target.yaml", "give exactly one target", "dataset build: no steps or episodes"),
    Case("dataset build {w}/plans/no_expert.yaml", "expert is required", "dataset build: a game without its expert"),
    Case(
        "dataset build {w}/plans/missing_expert.yaml",
        "nowhere.safetensors does not exist",
        "dataset build: an expert that does not exist",
    ),
    Case(
        "dataset build {w}/plans/same_name.yaml",
        "two collections are named breakout",
        "dataset build: two collections of one name",
    ),
    Case(
        "dataset build {w}/plans/zero_shards.yaml", "shards must be a whole number from 1", "dataset build: zero shards"
    ),
    Case(
        "dataset build {w}/plans/more_shards_than_steps.yaml",
        "a target of 3 cannot be split into 4 shards",
        "dataset build: more shards than steps",
    ),
    Case(
        "dataset build {w}/plans/bad_name.yaml",
        "must be lower-case letters",
        "dataset build: a collection name that cannot name a store",
    ),
    Case("dataset build {w}/plans/http_out.yaml", "http(s) URLs are read-only", "dataset build: out an https URL"),
    Case(
        "dataset build {w}/plans/hdf5_url.yaml",
        "is HDF5, which is read from local files only",
        "dataset build: HDF5 stores into a URL",
    ),
    Case("dataset build {w}/plans/file_out.yaml", "is a file; it must name a folder", "dataset build: out a file"),
    Case(
        "dataset build {w}/plans/work_inside_out.yaml",
        "lies inside out",
        "dataset build: the work folder inside the dataset",
    ),
    Case(
        "dataset build {w}/plans/unknown_executor.yaml",
        "kind must be one of local, submitit, dask",
        "dataset build: an unknown executor",
    ),
    Case(
        "dataset build {w}/plans/steps_text.yaml",
        "defaults: steps: invalid int value: 'many'",
        "dataset build: steps not a number",
    ),
    Case(
        "dataset build {w}/plans/sound.yaml --workers 0",
        "workers must be a whole number from 1 to 1024",
        "dataset build: zero local workers",
    ),
]


def render_markdown() -> str:
    """docs/bad_inputs.md: the catalogue as a table."""
    lines = [
        "# Bad inputs and their one-line errors",
        "",
        "Every row is a test (`tests/bad_inputs/test_catalogue.py`): the command exits with status 2,",
        "prints one line `amn COMMAND: error: ...` containing the message shown (no traceback), and",
        "changes nothing on disk. `{w}` is a folder of real and broken files (`tests/bad_inputs/world.py`).",
        "This file is generated from the table in `tests/bad_inputs/catalogue.py`:",
        "`python -m tests.bad_inputs.catalogue > docs/bad_inputs.md`.",
        "",
        f"{len(CASES)} bad inputs.",
        "",
        "| # | mistake | command (after `amn`) | the error says |",
        "|---|---|---|---|",
    ]
    for number, case in enumerate(CASES, 1):
        command = case.command.replace("{nl}", "\\n").replace("{esc}", "\\x1b").replace("|", "\\|")
        lines.append(f"| {number} | {case.what} | `{command}` | {case.message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
