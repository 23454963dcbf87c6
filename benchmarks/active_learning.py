"""Active learning on SST-2: labels each strategy needs to reach a validation accuracy, over several seeds.

    python benchmarks/active_learning.py            # the full run (needs CURIOLIB_DATA with sst2/)
    python benchmarks/active_learning.py --tiny     # seconds: what the test suite runs

Every (strategy, seed) pair starts from the same pretrained model and its own random seed set (100 labels),
queries --batch labels per round (200) from --candidates sampled pool sentences (800), and fine-tunes
warm-started on the new labels plus --replay earlier ones (200), one pass: a round costs the same at 3,300
labels as at 300; 3 strategies x 3 seeds x 17 rounds took 95 minutes on 2 CPU cores. Writes
benchmarks/results/active_learning.json (or --output) with the learning curves (and a .png of them beside it)
and prints a line for the README's results table. --resume continues the runs saved in --work-dir.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from _common import benchmark_parser, load_sst2_or_explain, results_header, write_results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings; --tiny shrinks everything for a smoke run."""
    parser = benchmark_parser(__doc__, "active_learning", "sst2", batch_size=16)
    parser.add_argument("--strategies", nargs="+", default=["random", "entropy", "explore_exploit"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seed-size", type=int, default=100)
    parser.add_argument("--batch", type=int, default=200, help="labels queried per round")
    parser.add_argument("--rounds", type=int, default=17)
    parser.add_argument("--candidates", type=int, default=800)
    parser.add_argument("--beta", type=float, default=0.5, help="exploration share of explore_exploit")
    parser.add_argument("--epochs-per-round", type=int, default=1)
    parser.add_argument("--replay", type=int, default=200,
                        help="earlier labels re-read each round beside the new ones (-1: all of them)")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.8, 0.85, 0.88])
    parser.add_argument("--resume", action="store_true",
                        help="continue each run from the last round saved in --work-dir (same settings)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_size, args.seed_size, args.batch, args.rounds, args.candidates = 64, 8, 8, 2, 16
        args.seeds, args.epochs_per_round, args.batch_size, args.replay = [0], 1, 8, 8
    return args


def labels_to_target(curves: list[list[dict]], targets: list[float]) -> dict:
    """Per target: labels each seed needed (None where it never got there), their mean and spread where reached."""
    from curiolib.active import labels_to_reach

    needed = {}
    for target in targets:
        counts = np.array([labels_to_reach(pd.DataFrame(curve), target) for curve in curves])
        reached = np.isfinite(counts)
        needed[str(target)] = {"per_seed": [float(c) if np.isfinite(c) else None for c in counts],
                               "reached": int(reached.sum()),
                               "mean": float(counts[reached].mean()) if reached.any() else None,
                               "std": float(counts[reached].std()) if reached.any() else None}
    return needed


def accuracy_summary(curves: list[list[dict]]) -> dict:
    """Final, best and mean validation accuracy over the rounds (the area under the learning curve), per seed."""
    accuracy = np.array([[row["accuracy"] for row in curve if row["round"] > 0] for curve in curves])
    summary = {"final": accuracy[:, -1], "best": accuracy.max(1), "mean_over_rounds": accuracy.mean(1)}
    return {name: {"per_seed": values.tolist(), "mean": float(values.mean()), "std": float(values.std())}
            for name, values in summary.items()}


def readme_row(results: dict, args: argparse.Namespace) -> str:
    """The README table row: labels to each target (mean ± spread, seeds that got there) and final accuracy."""
    seeds, budget = len(args.seeds), args.seed_size + (args.rounds - 1) * args.batch
    cells = []
    for strategy, needed in results["labels_to_target"].items():
        shown = [f"not reached in {budget:,}" if v["mean"] is None else f"{v['mean']:.0f} ± {v['std']:.0f}"
                 + ("" if v["reached"] == seeds else f" ({v['reached']}/{seeds} seeds)") for v in needed.values()]
        final = results["accuracy"][strategy]["final"]
        cells.append(f"{strategy}: " + " / ".join(shown) + f"; final {final['mean']:.3f} ± {final['std']:.3f}")
    return (f"| active learning (SST-2, labels to reach {' / '.join(str(t) for t in args.targets)}, "
            f"{seeds} seeds, {budget:,} labels at most) | " + "; ".join(cells) + " |")


def save_learning_curves(runs: dict, targets: list[float], path: Path) -> None:
    """The strategies' learning curves (mean over seeds, min–max band) with the targets, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from curiolib.active import plot_learning_curves

    ax = plot_learning_curves(runs)
    for target in targets:
        ax.axhline(target, color="gray", ls=":", lw=1)
    ax.set_title("SST-2 validation accuracy against labels (band: min–max over seeds; dotted: targets)", fontsize=10)
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Run every strategy with every seed on the same split and write the learning curves and labels-to-target."""
    args = parse_args(argv)
    data = load_sst2_or_explain(args)
    if data is None:
        return 0
    from curiolib.active import ActiveLearningConfig, ActiveLearningRun, run_active_learning
    from curiolib.course.notebook import quiet
    from curiolib.finetune.models import load_model_for_task

    quiet()
    results = results_header(args) | {"pool": len(data["train"]), "validation": len(data["validation"])}
    runs: dict[str, list[ActiveLearningRun]] = {strategy: [] for strategy in args.strategies}
    for seed in args.seeds:  # seed-major, so an interrupted run has every strategy at the seeds it finished
        for strategy in args.strategies:
            config = ActiveLearningConfig(strategy=strategy, seed_size=args.seed_size, batch_size=args.batch,
                                          rounds=args.rounds, candidates=args.candidates, beta=args.beta,
                                          epochs_per_round=args.epochs_per_round,
                                          replay=None if args.replay < 0 else args.replay,
                                          train_batch_size=args.batch_size,
                                          learning_rate=args.learning_rate, max_length=args.max_length, seed=seed,
                                          output_dir=str(args.work_dir / f"{strategy}_{seed}"))
            tokenizer, model = load_model_for_task(args.model, "sequence", ["negative", "positive"], seed=seed)
            run = run_active_learning(model, tokenizer, data, config, resume=args.resume)
            runs[strategy].append(run)
            final = run.history.iloc[-1]
            print(f"{strategy:>16} seed {seed}: {final['labels']:.0f} labels -> accuracy {final['accuracy']:.4f} "
                  f"({run.history['seconds'].sum() / 60:.1f} min)", flush=True)
    curves = {strategy: [run.history.to_dict("records") for run in strategy_runs]
              for strategy, strategy_runs in runs.items()}
    results["curves"] = curves
    results["labels_to_target"] = {strategy: labels_to_target(strategy_curves, args.targets)
                                   for strategy, strategy_curves in curves.items()}
    results["accuracy"] = {strategy: accuracy_summary(strategy_curves) for strategy, strategy_curves in curves.items()}
    row = readme_row(results, args)
    write_results(results, args.output, row)
    save_learning_curves(runs, args.targets, args.output.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
