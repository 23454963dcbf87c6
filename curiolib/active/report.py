"""Reading active-learning runs: mean curves over seeds, labels to reach a target, the growth fit, what was asked."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_number
from ..growth.learning_curves import fit_active_learning_run
from .loop import ActiveLearningRun


def labels_to_reach(history: pd.DataFrame, target: float) -> float:
    """Labels used when validation accuracy first reaches ``target``; NaN if it never does."""
    check_number("target", target, low=0, high=1)
    reached = history[(history["round"] > 0) & (history["accuracy"] >= target)]
    return float(reached["labels"].iloc[0]) if len(reached) else float("nan")


def mean_curve(runs: list[ActiveLearningRun]) -> pd.DataFrame:
    """The seeds' histories averaged round by round (labels, E and R are the same for every seed)."""
    frames = pd.concat([run.history.assign(seed=run.config.seed) for run in runs])
    grouped = frames.groupby("round")
    curve = grouped[["labels", "E", "R", "accuracy"]].mean()
    return curve.assign(accuracy_min=grouped["accuracy"].min(), accuracy_max=grouped["accuracy"].max(),
                        seconds=grouped["seconds"].mean()).reset_index()


def labels_to_target_table(runs: dict[str, list[ActiveLearningRun]], targets: list[float]) -> pd.DataFrame:
    """For each strategy and target accuracy: mean and spread of the labels needed, and how many seeds got there."""
    rows = []
    for strategy, strategy_runs in runs.items():
        for target in targets:
            needed = np.array([labels_to_reach(run.history, target) for run in strategy_runs])
            reached = np.isfinite(needed)
            rows.append({"strategy": strategy, "target": target, "seeds reaching it": f"{reached.sum()}/{len(needed)}",
                         "labels (mean)": needed[reached].mean() if reached.any() else np.nan,
                         "labels (min–max)": f"{needed[reached].min():.0f}–{needed[reached].max():.0f}"
                         if reached.any() else "not reached"})
    return pd.DataFrame(rows).set_index(["strategy", "target"])


def growth_fit_table(runs: dict[str, list[ActiveLearningRun]], score: str = "accuracy",
                     capacity: float | None = None) -> pd.DataFrame:
    """The growth model fitted to each strategy's mean curve: α, β with standard errors, R², and the verdict."""
    rows = []
    for strategy, strategy_runs in runs.items():
        fitted = fit_active_learning_run(mean_curve(strategy_runs), score, capacity)
        rows.append({"strategy": strategy, "α": fitted.alpha, "α SE": fitted.alpha_se, "β": fitted.beta,
                     "β SE": fitted.beta_se, "R²": fitted.r_squared, "verdict": fitted.message})
    return pd.DataFrame(rows).set_index("strategy")


def summarise_against_random(runs: dict[str, list[ActiveLearningRun]], target: float) -> str:
    """One sentence per strategy: labels it needed to reach ``target`` against random sampling, on average, and
    whether the difference is outside the spread between seeds (with few seeds, a difference inside it is noise).

    Where some seed of either never reached the target, the sentence says how many did, and compares no means:
    a mean over the seeds that got there would hide the ones that did not.
    """
    if "random" not in runs:
        raise ValueError("runs must include the 'random' strategy to compare against")
    needed = {strategy: np.array([labels_to_reach(run.history, target) for run in strategy_runs])
              for strategy, strategy_runs in runs.items()}
    baseline = needed["random"]

    def reached(counts: np.ndarray) -> str:
        hit = counts[np.isfinite(counts)]
        if not len(hit):
            return f"not reached in any of {len(counts)} seeds"
        return f"{hit.mean():.0f} labels in {len(hit)} of {len(counts)} seeds"

    lines = []
    for strategy, counts in needed.items():
        if strategy == "random":
            continue
        if not (np.isfinite(counts).all() and np.isfinite(baseline).all()):
            lines.append(f"{strategy} to reach {target:g}: {reached(counts)}; random: {reached(baseline)} "
                         "(no comparison of means while a seed falls short)")
            continue
        mean, base = counts.mean(), baseline.mean()
        change = (mean - base) / base
        verdict = "the same number" if change == 0 else f"{abs(change):.0%} {'fewer' if change < 0 else 'more'}"
        low, high, random_low, random_high = counts.min(), counts.max(), baseline.min(), baseline.max()
        apart = high < random_low or low > random_high
        noise = "" if change == 0 else (
            "; the seeds' ranges do not overlap" if apart else
            f"; within the spread between seeds ({low:.0f}–{high:.0f} against {random_low:.0f}–{random_high:.0f}),"
            " so these seeds cannot tell the two apart")
        lines.append(f"{strategy}: {mean:.0f} labels to reach {target:g} against {base:.0f} for random, "
                     f"{verdict} (mean over seeds{noise})")
    return "\n".join(lines)


def query_uncertainty_table(runs: dict[str, list[ActiveLearningRun]]) -> pd.DataFrame:
    """Per round: mean entropy of the examples each strategy asked about, and of the candidates (seed mean)."""
    columns = ["asked_entropy", "candidate_entropy"]
    return pd.concat({strategy: pd.concat([run.history.set_index("round")[columns] for run in strategy_runs])
                      .groupby(level=0).mean() for strategy, strategy_runs in runs.items()}, axis=1)


def accuracy_by_labels(runs: dict[str, list[ActiveLearningRun]], peer: str = "random") -> pd.DataFrame:
    """Accuracy at each labelled-set size for every strategy and peer: mean, min–max over seeds, against ``peer``.

    ``verdict`` says "ahead" or "behind" only where the seeds' ranges do not overlap ``peer``'s, else
    "within the spread" (with few seeds that is the honest reading of a small difference); with a single
    seed there is no spread to judge by, and it says so.
    """
    if peer not in runs:
        raise ValueError(f"peer must be one of the runs' names {list(runs)}, got {peer!r}")
    rows = []
    for name, name_runs in runs.items():
        curve = mean_curve(name_runs).query("round > 0")
        rows += [{"labels": int(row["labels"]), "recipe": name, "mean": row["accuracy"], "min": row["accuracy_min"],
                  "max": row["accuracy_max"]} for _, row in curve.iterrows()]
    table = pd.DataFrame(rows).set_index(["labels", "recipe"]).sort_index(level=0, sort_remaining=False)
    reference = table.xs(peer, level="recipe")
    against = reference.reindex(table.index.get_level_values("labels"))
    table["minus peer"] = table["mean"].to_numpy() - against["mean"].to_numpy()
    ahead = table["min"].to_numpy() > against["max"].to_numpy()
    behind = table["max"].to_numpy() < against["min"].to_numpy()
    table["verdict"] = np.where(ahead, "ahead", np.where(behind, "behind", "within the spread"))
    if min(len(name_runs) for name_runs in runs.values()) < 2:
        table["verdict"] = "one seed: no spread to judge by"
    table.loc[table.index.get_level_values("recipe") == peer, "verdict"] = "(the peer)"
    return table
