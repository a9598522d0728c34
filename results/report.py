"""Write results/README.md, its CSV tables and PNG plots from what reproduce.sh produced.

    python results/report.py --work runs/results --out results \
        --transfer results/transfer/road_runner results/transfer/breakout

Every number in the README comes from a file: experts/*.json (the zoo), the work folder's
stores.json (`amn dataset info --json`), eval/<name>/evaluation.json (`amn evaluate`), the
AMNs' Lightning metrics.csv (held-out agreement and KL), compute.txt (seconds per stage),
each transfer target's runs (`<variant>/seed<k>/evaluations.csv`, results/report_transfer.py),
results/mixed/ (the mixed-teacher AMN of results/reproduce_mixed.sh: its evaluations, one game
per folder, and its metrics.csv) and results/diagnosis/ (`amn diagnose play` folders,
results/report_diagnosis.py). Error bars are standard errors over episodes (evaluation) or
the range over seeds (transfer).

The work folder is large and not in git; the CSV tables in --out are. A table row whose runs
are not in the work folder (another session's, say) is read back from the committed CSV, and
rows the work folder has replace theirs, so a fresh clone regenerates the same README and a
new run updates only its rows. Each such table says where its rows came from in one line.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from report_diagnosis import diagnosis_table, store_table
from report_transfer import finished_curves, mean_and_se, transfer_goal, transfer_runs, transfer_summary

from actor_mimic.errors import UserError
from actor_mimic.transfer.experiment import evaluation_curves, plot_curves, table_markdown, transfer_table

NOT_RUN = "_not run yet_\n"
VARIANTS = {  # name in the work folder -> how the tables call it
    "policy-tau1": "AMN-policy, tau 1",
    "feature-tau1": "AMN-feature, tau 1",
    "policy-tau0.01": "AMN-policy, tau 0.01",
    "feature-tau0.01": "AMN-feature, tau 0.01",
    "policy-tau1-more-cc": "AMN-policy, tau 1, more Crazy Climber data",  # reproduce_crazy_climber.sh
    "policy-tau1-stronger-cc": "AMN-policy, tau 1, stronger Crazy Climber expert",  # --stronger-expert
}
ROUNDS = {"round-none": "expert data only", "round-r1": "plus one student-acts round"}  # regime -> label


# --- reading ------------------------------------------------------------------------------
def standard_error(std: float, episodes: int) -> float:
    """std / sqrt(n); undefined (NaN) for fewer than two episodes, whose std is 0 by definition."""
    return std / math.sqrt(episodes) if episodes > 1 else float("nan")


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def evaluation_runs(work: Path, name: str, long_episode_games: tuple[str, ...] = ()) -> dict[str, dict]:
    """game -> the evaluation of `name` (an AMN variant, or "experts") on that game. Games with
    long episodes come from `eval/<name>/long-episodes/` (fewer environments, so that their
    episodes end within the budget), the others from `eval/<name>/`."""
    runs = {}
    for path, games in ((work / "eval" / name / "evaluation.json", None),
                        (work / "eval" / name / "long-episodes" / "evaluation.json", long_episode_games)):  # fmt: skip
        if path.exists():
            for run in json.loads(path.read_text())["runs"]:
                if (games is None and run["game"] not in long_episode_games) or (games and run["game"] in games):
                    runs[run["game"]] = run
    return runs


def held_out_metrics(work: Path, name: str) -> dict[str, dict]:
    """game -> {"agreement", "kl"} of the AMN's last validation on held-out episodes."""
    fits = sorted((work / "amn" / name).glob("distill/version_*/metrics.csv"))
    fits = [f for f in fits if (f.parent / "amn.safetensors").exists()]
    if not fits:
        return {}
    last: dict[str, dict] = {}
    for row in read_rows(fits[-1]):
        for key, value in row.items():
            parts = key.split("/")
            if len(parts) == 3 and parts[0] == "val" and value != "":
                last.setdefault(parts[1], {})[parts[2]] = float(value)
    return last


def naive_bytes(num_actions: int, hidden_size: int, screen_size: int = 84, stack: int = 4) -> int:
    """A transition stored naively: the stacked uint8 frames, float32 Q-values and activations
    (benchmarks/bench_size.py's definition)."""
    return stack * screen_size * screen_size + 4 * num_actions + 4 * hidden_size


# --- tables -------------------------------------------------------------------------------
def zoo_table(expert_files: list[Path]) -> list[dict]:
    rows = []
    for path in expert_files:
        document = json.loads(path.read_text())
        expert, random_policy, training = document["expert"], document["random_policy"], document["training"]
        if random_policy["mean"] > 0:
            criterion, passed = "mean >= 2x random", expert["mean"] >= 2 * random_policy["mean"]
        else:
            criterion, passed = "mean >= random + 10", expert["mean"] >= random_policy["mean"] + 10
        rows.append({
            "game": document["game"], "agent_steps": training["agent_steps"],
            "wall_hours": training["wall_hours"], "runs": len(training.get("segments", [])) or 1,
            "expert_mean": expert["mean"], "expert_se": standard_error(expert["std"], expert["num_episodes"]),
            "expert_episodes": expert["num_episodes"], "random_mean": random_policy["mean"],
            "random_se": standard_error(random_policy["std"], random_policy["num_episodes"]),
            "random_episodes": random_policy["num_episodes"], "eval_steps": expert["steps"],
            "criterion": criterion, "passed": passed,
        })  # fmt: skip
    return rows


def datasets_table(work: Path) -> list[dict]:
    path = work / "stores.json"
    if not path.exists():
        return []
    rows = []
    for store in json.loads(path.read_text())["stores"]:
        naive = naive_bytes(len(store["action_set"]), store["hidden_size"])
        per_step = store["bytes_on_disk"] / max(store["steps"], 1)
        rows.append({
            "game": store["game"], "transitions": store["steps"], "episodes": store["episodes"],
            "return_mean": store["return_mean"], "behaviour": store["behaviour"],
            "bytes_on_disk": store["bytes_on_disk"], "bytes_per_transition": per_step,
            "times_smaller_than_naive": naive / per_step, "compression": store["compression"],
        })  # fmt: skip
    return rows


def multitask_table(
    work: Path, names: dict[str, str], long_episode_games: tuple[str, ...] = (), committed: list[dict] | None = None
) -> list[dict]:
    """One row per AMN variant and game of the work folder. The experts' scores are the work
    folder's evaluation, else those of the committed rows (`committed`, multitask.csv): the
    same experts under the same protocol and seed, which a later experiment need not play again."""
    experts = {row["game"]: {"mean": row["expert_mean"], "se": row["expert_se"], "episodes": row["expert_episodes"]}
               for row in committed or []}  # fmt: skip
    for game, run in evaluation_runs(work, "experts", long_episode_games).items():
        experts[game] = {"mean": run["mean"], "se": standard_error(run["std"], run["num_episodes"]),
                         "episodes": run["num_episodes"]}  # fmt: skip
    rows = []
    for name, label in names.items():
        amn, metrics = evaluation_runs(work, name, long_episode_games), held_out_metrics(work, name)
        for game, run in sorted(amn.items()):
            expert = experts.get(game)
            percent = 100 * run["mean"] / expert["mean"] if expert and expert["mean"] else float("nan")
            rows.append({
                "variant": label, "game": game,
                "expert_mean": expert["mean"] if expert else float("nan"),
                "expert_se": expert["se"] if expert else float("nan"),
                "expert_episodes": expert["episodes"] if expert else 0,
                "amn_mean": run["mean"], "amn_se": standard_error(run["std"], run["num_episodes"]),
                "amn_episodes": run["num_episodes"], "amn_percent_of_expert": percent,
                "held_out_agreement": metrics.get(game, {}).get("agreement", float("nan")),
                "held_out_kl": metrics.get(game, {}).get("kl", float("nan")),
            })  # fmt: skip
    return rows


def mixed_table(mixed: Path, experts: Path) -> list[dict]:
    """The mixed-teacher AMN per game (results/reproduce_mixed.sh): each game's teacher (its
    checkpoint's library, algorithm and outputs), expert and AMN scores, held-out agreement and KL."""
    from actor_mimic.common.checkpoint import read_metadata

    def runs(name: str) -> dict[str, dict]:
        found = {}
        for path in sorted((mixed / "eval" / name).glob("*/evaluation.json")):
            found |= {run["game"]: run for run in json.loads(path.read_text())["runs"]}
        return found

    teachers, amn, metrics = runs("experts"), runs("mixed"), {}
    if (mixed / "amn" / "mixed" / "metrics.csv").exists():
        for row in read_rows(mixed / "amn" / "mixed" / "metrics.csv"):
            for key, value in row.items():
                parts = key.split("/")
                if len(parts) == 3 and parts[0] == "val" and value != "":
                    metrics.setdefault(parts[1], {})[parts[2]] = float(value)
    rows = []
    for game, run in amn.items():
        expert, meta = teachers.get(game), read_metadata(experts / f"{game}.safetensors")
        library = meta.provenance.get("library", "actor-mimic")
        algorithm = str(meta.provenance.get("algorithm", "dqn")).upper()
        rows.append({
            "teacher": f"{library} {algorithm} ({meta.outputs.replace('_', '-')})", "game": game,
            "expert_mean": expert["mean"] if expert else float("nan"),
            "expert_se": standard_error(expert["std"], expert["num_episodes"]) if expert else float("nan"),
            "expert_episodes": expert["num_episodes"] if expert else 0,
            "amn_mean": run["mean"], "amn_se": standard_error(run["std"], run["num_episodes"]),
            "amn_episodes": run["num_episodes"],
            "amn_percent_of_expert": 100 * run["mean"] / expert["mean"] if expert and expert["mean"] else float("nan"),
            "held_out_agreement": metrics.get(game, {}).get("agreement", float("nan")),
            "held_out_kl": metrics.get(game, {}).get("kl", float("nan")),
        })  # fmt: skip
    return sorted(rows, key=lambda row: (row["teacher"].endswith("(logits)"), row["game"]))


def mixed_summary(rows: list[dict]) -> list[dict]:
    """Mean and lowest % of expert over the Q-value teachers' games, the logit teachers', and all."""
    groups = {
        "Q-value teachers (DQN)": [r for r in rows if not r["teacher"].endswith("(logits)")],
        "logit teachers (PPO)": [r for r in rows if r["teacher"].endswith("(logits)")],
        "every game": rows,
    }
    return [{"variant": label, **variant_summary([{**r, "variant": label} for r in group])[0]}
            for label, group in groups.items() if group]  # fmt: skip


def round_runs(work: Path) -> dict[str, tuple[str, int]]:
    """name in the work folder -> (regime label, seed), for every evaluated seed of the rounds
    comparison: seed 0's runs carry no suffix (`round-r1`), later seeds `-seed<k>`
    (reproduce.sh stage 4)."""
    runs = {}
    for regime, label in ROUNDS.items():
        for folder in sorted((work / "eval").glob(f"{regime}*")):
            suffix = folder.name.removeprefix(regime)
            if suffix == "":
                runs[folder.name] = (label, 0)
            elif suffix.startswith("-seed") and suffix.removeprefix("-seed").isdigit():
                runs[folder.name] = (label, int(suffix.removeprefix("-seed")))
    return runs


def rounds_table(work: Path, long_episode_games: tuple[str, ...] = ()) -> list[dict]:
    """The multitask table of every round run, seed by seed."""
    rows = []
    for name, (label, seed) in sorted(round_runs(work).items(), key=lambda item: (item[1][1], item[0])):
        rows += [{"seed": seed, **row} for row in multitask_table(work, {name: label}, long_episode_games)]
    return rows


def rounds_summary(rows: list[dict]) -> list[dict]:
    """Per data regime, over seeds: the mean % of expert (each seed's mean over games, then
    their mean and standard error), the lowest game (its mean over seeds), on how many of the
    seeds that ran every regime this one scored the highest mean, and its gain over the first
    regime (expert data only) paired by seed: the mean and standard error of the per-seed
    differences, which the spread between seeds affects less than the two means' errors."""
    per_seed: dict[tuple[str, int], float] = {}  # (regime, seed) -> mean % of expert over games
    for key in dict.fromkeys((r["variant"], r["seed"]) for r in rows):
        percents = [r["amn_percent_of_expert"] for r in rows if (r["variant"], r["seed"]) == key]
        per_seed[key] = sum(percents) / len(percents)
    labels = list(dict.fromkeys(r["variant"] for r in rows))
    every_regime = sorted({s for _, s in per_seed if all((label, s) in per_seed for label in labels)})
    summary = []
    for label in labels:
        seeds = sorted(s for regime, s in per_seed if regime == label)
        mean, se = mean_and_se([per_seed[label, s] for s in seeds])
        games = dict.fromkeys(r["game"] for r in rows if r["variant"] == label)
        lowest = min(mean_and_se([r["amn_percent_of_expert"] for r in rows
                                  if r["variant"] == label and r["game"] == game])[0] for game in games)  # fmt: skip
        won = sum(per_seed[label, s] == max(per_seed[other, s] for other in labels) for s in every_regime)
        paired = [per_seed[label, s] - per_seed[labels[0], s] for s in every_regime]
        gain, gain_se = mean_and_se(paired) if paired and label != labels[0] else (math.nan, math.nan)
        summary.append({"variant": label, "seeds": " ".join(map(str, seeds)), "mean_percent": mean,
                        "mean_percent_se": se, "min_percent": lowest,
                        "seeds_won": f"{won} of {len(every_regime)}", "paired_gain": gain,
                        "paired_gain_se": gain_se})  # fmt: skip
    return summary


def rounds_by_game(rows: list[dict]) -> list[dict]:
    """Per game: each regime's % of expert, mean and standard error over seeds, and the
    round's gain over expert data only (the difference of the means)."""
    table = []
    for game in sorted({r["game"] for r in rows}):
        row: dict = {"game": game}
        for regime, label in ROUNDS.items():
            values = [r["amn_percent_of_expert"] for r in rows if r["variant"] == label and r["game"] == game]
            row[f"{regime}_percent"], row[f"{regime}_se"] = mean_and_se(values) if values else (math.nan, math.nan)
        row["gain"] = row["round-r1_percent"] - row["round-none_percent"]
        table.append(row)
    return table


def variant_summary(rows: list[dict]) -> list[dict]:
    """Per variant: mean and minimum of AMN % of expert over games."""
    summary = []
    for label in dict.fromkeys(r["variant"] for r in rows):
        percents = [r["amn_percent_of_expert"] for r in rows if r["variant"] == label]
        summary.append({"variant": label, "mean_percent": sum(percents) / len(percents),
                        "min_percent": min(percents), "games": len(percents)})  # fmt: skip
    return summary


def compute_table(work: Path) -> list[dict]:
    path = work / "compute.txt"
    if not path.exists():
        return []
    totals: dict[str, float] = {}
    for line in path.read_text().splitlines():
        name, seconds = line.rsplit(" ", 1)
        totals[name] = totals.get(name, 0) + float(seconds)
    return [{"stage": name, "minutes": seconds / 60} for name, seconds in totals.items()]


# --- committed tables ---------------------------------------------------------------------
def cell_value(text: str) -> int | float | bool | str | None:
    """A CSV cell as write_csv wrote it, back to its value: "" was None, then bool, int, float
    (floats were written exactly, by repr), else the text."""
    if text in ("", "True", "False"):
        return None if text == "" else text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_table(path: Path) -> list[dict]:
    """The rows of a table report.py wrote, their values as they were."""
    return [{key: cell_value(text) for key, text in row.items()} for row in read_rows(path)] if path.exists() else []


def with_committed(name: str, rows: list[dict], key: tuple[str, ...], work: Path, out: Path) -> list[dict]:
    """`rows` (the work folder's runs) completed by the committed table out/<name>.csv: a row
    of the work folder replaces the committed row of the same key, committed rows it does not
    have are kept in their place, new rows come last. Prints where the rows came from."""
    path = out / f"{name}.csv"
    committed = read_table(path)
    rebuilt = {tuple(row[k] for k in key): row for row in rows}
    kept = sum(tuple(row[k] for k in key) not in rebuilt for row in committed)
    merged = [rebuilt.pop(tuple(row[k] for k in key), row) for row in committed] + list(rebuilt.values())
    if kept and rows:
        print(f"{name}: {len(rows)} rows from {work}, {kept} read back from {path}")
    elif kept:
        print(f"{name}: read back from {path} ({kept} rows; their runs are not in {work})")
    else:
        print(f"{name}: {len(rows)} rows from {work}" if rows else f"{name}: not run yet (nothing in {work})")
    return merged


# --- writing ------------------------------------------------------------------------------
def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown(rows: list[dict], columns: dict[str, str], empty: str = NOT_RUN) -> str:
    """A markdown table of `rows`: column key -> header; floats printed compactly; `empty`
    if there are no rows."""
    if not rows:
        return empty

    def cell(value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "**no**"
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return "-" if value is None else str(value)

    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(key)) for key in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def plot_multitask(path: Path, rows: list[dict]) -> None:
    games = sorted({r["game"] for r in rows})
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    figure, axes = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / max(len(variants), 1)
    for i, label in enumerate(variants):
        values = {r["game"]: r for r in rows if r["variant"] == label}
        x = [g + i * width for g in range(len(games))]
        heights = [values[g]["amn_percent_of_expert"] if g in values else 0 for g in games]
        errors = [100 * values[g]["amn_se"] / values[g]["expert_mean"] if g in values and values[g]["expert_mean"]
                  else 0 for g in games]  # fmt: skip
        axes.bar(x, heights, width, yerr=errors, capsize=2, label=label)
    axes.axhline(100, color="black", linewidth=1, linestyle="--")
    axes.set_xticks([g + 0.4 - width / 2 for g in range(len(games))], games)
    axes.set_ylabel("AMN mean score, % of expert")
    axes.set_title("one AMN for all source games (error bars: s.e. over episodes)")
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# Column key -> header of every markdown table in the README.
COLUMNS = {
    "zoo": {"game": "game", "agent_steps": "agent steps", "wall_hours": "hours", "expert_mean": "expert mean",
            "expert_se": "s.e.", "expert_episodes": "episodes", "random_mean": "random mean", "random_se": "s.e.",
            "eval_steps": "eval steps", "criterion": "criterion", "passed": "passed"},
    "datasets": {"game": "game", "transitions": "transitions", "episodes": "episodes", "return_mean": "mean return",
                 "bytes_on_disk": "bytes on disk", "bytes_per_transition": "B/transition",
                 "times_smaller_than_naive": "x smaller than naive", "compression": "codec"},
    "multitask_summary": {"variant": "variant", "mean_percent": "mean % of expert",
                          "min_percent": "lowest % of expert", "games": "games"},
    "rounds_summary": {"variant": "data", "seeds": "seeds", "mean_percent": "mean % of expert",
                       "mean_percent_se": "s.e. over seeds", "min_percent": "lowest game (mean over seeds)",
                       "seeds_won": "seeds on which it scores higher",
                       "paired_gain": "gain over expert data only, paired by seed (points)",
                       "paired_gain_se": "s.e."},
    "rounds_by_game": {"game": "game", "round-none_percent": "expert data only, % of expert",
                       "round-none_se": "s.e. over seeds", "round-r1_percent": "plus one round, % of expert",
                       "round-r1_se": "s.e. over seeds", "gain": "gain (points)"},
    "multitask": {"variant": "variant", "game": "game", "expert_mean": "expert", "expert_se": "s.e.",
                  "expert_episodes": "episodes", "amn_mean": "AMN", "amn_se": "s.e.", "amn_episodes": "episodes",
                  "amn_percent_of_expert": "AMN % of expert", "held_out_agreement": "greedy agreement",
                  "held_out_kl": "KL"},
    "rounds": {"seed": "seed", "variant": "data", "game": "game", "amn_mean": "AMN", "amn_se": "s.e.",
               "amn_episodes": "episodes", "amn_percent_of_expert": "AMN % of expert",
               "held_out_agreement": "greedy agreement", "held_out_kl": "KL"},
    "transfer_summary": {"variant": "variant", "seeds": "seeds", "steps_trained": "steps trained",
                         "random_final_score": "random-init final score", "final_score": "final score",
                         "final_score_se": "s.e. over seeds", "steps_to_reach_it": "steps to reach it",
                         "percent_of_random_steps": "% of random-init's steps",
                         "mean_score_over_training": "mean over training",
                         "random_mean_score_over_training": "random-init's mean over training"},
    "compute": {"stage": "stage", "minutes": "minutes"},
    "mixed_summary": {"variant": "games", "mean_percent": "mean % of expert", "min_percent": "lowest % of expert",
                      "games": "games"},
    "mixed": {"teacher": "teacher", "game": "game", "expert_mean": "teacher", "expert_se": "s.e.",
              "expert_episodes": "episodes", "amn_mean": "AMN", "amn_se": "s.e.", "amn_episodes": "episodes",
              "amn_percent_of_expert": "AMN % of teacher", "held_out_agreement": "greedy agreement",
              "held_out_kl": "KL"},
    "diagnosis": {"game": "game", "policy": "policy", "episodes": "episodes", "returns": "returns",
                  "mean_return": "mean", "agreement": "greedy agreement", "kl": "KL", "lives_lost": "lives lost",
                  "score_range": "score range", "percent_of_steps_in_range": "% of its steps in the range",
                  "lives_lost_in_range": "lives lost there", "lives_per_1000_steps_in_range": "per 1,000 steps there",
                  "lives_per_1000_steps_elsewhere": "per 1,000 steps elsewhere",
                  "episodes_past_range": "episodes past the range"},
    "diagnosis_store": {"game": "game", "store_steps": "stored steps", "episodes": "episodes",
                        "score_range": "score range", "episodes_ending_in_range": "episodes ending in the range",
                        "episodes_past_range": "episodes past it", "steps_in_range": "steps in the range",
                        "percent_in_range": "%", "steps_past_range": "steps past it", "percent_past_range": "%",
                        "highest_score": "highest score"},
}  # fmt: skip
MIXED_NOT_RUN = "_not run yet: the mixed AMN has no evaluation in results/mixed/eval/mixed/ (reproduce_mixed.sh)_\n"


def transfer_section(folder: Path, args: argparse.Namespace) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """One transfer target (an `amn transfer --out-dir` named after its game): its block table
    and summary (CSV rows), their markdown and the runs' status (template texts), its plot."""
    game, curves = folder.name, evaluation_curves(folder)
    print(f"transfer to {game}: {len(curves)} evaluations in {folder}")
    if not curves:
        return {}, {f"transfer_{game}_blocks": NOT_RUN, f"transfer_{game}_summary": NOT_RUN,
                    f"transfer_{game}_runs": "", f"transfer_{game}_plot": ""}  # fmt: skip
    variants = sorted({r["variant"] for r in curves}, key=lambda v: (v != "random", v))
    finished = finished_curves(folder, curves)
    blocks = transfer_table(finished, variants, args.transfer_block, args.transfer_steps, args.transfer_eval_every)
    summary = transfer_summary(folder, curves)
    plot_curves(args.out / f"transfer-{game}.png", finished, variants, game)
    texts = {
        f"transfer_{game}_blocks": table_markdown(blocks, variants, game),
        f"transfer_{game}_summary": markdown(summary, COLUMNS["transfer_summary"]),
        f"transfer_{game}_runs": f"{transfer_runs(folder, curves)} {transfer_goal(summary)}\n",
        f"transfer_{game}_plot": f"![transfer to {game}](transfer-{game}.png)\n",
    }
    return {f"transfer_{game}_blocks": blocks, f"transfer_{game}_summary": summary}, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="reproduce.sh's work folder")
    parser.add_argument("--transfer", type=Path, nargs="+", required=True,
                        help="each target's amn transfer --out-dir, named after its game")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="where README.md, CSV and PNG go")
    parser.add_argument("--experts", type=Path, default=Path("experts"))
    parser.add_argument("--mixed", type=Path, default=Path(__file__).parent / "mixed",
                        help="results/reproduce_mixed.sh's results (the mixed-teacher AMN)")  # fmt: skip
    parser.add_argument("--diagnosis", type=Path, default=Path(__file__).parent / "diagnosis",
                        help="amn diagnose play folders, <game>/<policy>/")  # fmt: skip
    parser.add_argument("--long-episode-games", nargs="*", default=["crazy_climber"],
                        help="games evaluated on fewer environments, in eval/<name>/long-episodes/")  # fmt: skip
    parser.add_argument("--transfer-steps", type=int, default=250_000, help="each transfer run's agent steps")
    parser.add_argument("--transfer-block", type=int, default=50_000, help="agent steps per block of the table")
    parser.add_argument("--transfer-eval-every", type=int, default=25_000, help="the runs' --eval-every")
    args = parser.parse_args()
    work, out = args.work, args.out
    out.mkdir(parents=True, exist_ok=True)

    # The work folder's runs, completed by the committed tables (runs of earlier sessions).
    long_games = tuple(args.long_episode_games)
    datasets = with_committed("datasets", datasets_table(work), ("game",), work, out)
    multitask_rows = multitask_table(work, VARIANTS, long_games, read_table(out / "multitask.csv"))
    multitask = with_committed("multitask", multitask_rows, ("variant", "game"), work, out)
    rounds = with_committed("rounds", rounds_table(work, long_games), ("seed", "variant", "game"), work, out)
    compute = with_committed("compute", compute_table(work), ("stage",), work, out)
    mixed = mixed_table(args.mixed, args.experts)
    tables = {
        "zoo": zoo_table(sorted(args.experts.glob("*.json"))),
        "datasets": datasets,
        "multitask_summary": variant_summary(multitask) if multitask else [],
        "multitask": multitask,
        "rounds_summary": rounds_summary(rounds) if rounds else [],
        "rounds_by_game": rounds_by_game(rounds) if rounds else [],
        "rounds": rounds,
        "compute": compute,
        "mixed_summary": mixed_summary(mixed) if mixed else [],
        "mixed": mixed,
        "diagnosis": diagnosis_table(args.diagnosis),
        "diagnosis_store": store_table(args.diagnosis),
    }
    texts = {name: markdown(rows, COLUMNS[name]) for name, rows in tables.items()}
    if not mixed:
        texts["mixed_summary"], texts["mixed"] = MIXED_NOT_RUN, ""
    for folder in args.transfer:
        transfer_tables, transfer_texts = transfer_section(folder, args)
        tables |= transfer_tables
        texts |= transfer_texts
    for name, rows in tables.items():
        write_csv(out / f"{name}.csv", rows)
    if multitask:
        plot_multitask(out / "multitask.png", multitask)

    template = Template((Path(__file__).parent / "README.template.md").read_text())
    placeholders = set(template.get_identifiers())
    for name in sorted(set(texts) - placeholders):
        print(f"no ${name} in README.template.md: {name}.csv only")
    for name in placeholders - set(texts):  # the sections of transfer targets not passed
        if name.startswith("transfer_"):
            texts[name] = NOT_RUN if name.endswith(("_blocks", "_summary")) else ""
    (out / "README.md").write_text(template.substitute(texts))
    print(f"wrote {out / 'README.md'}")


if __name__ == "__main__":
    try:
        main()
    except UserError as error:  # one line, no traceback, as the amn commands
        print(f"report.py: error: {error}", file=sys.stderr)
        sys.exit(2)
