"""Active learning on SST-2: labels each strategy needs to reach a validation accuracy, over several seeds.

    python benchmarks/active_learning.py            # the full run (needs CURIOLIB_DATA with sst2/)
    python benchmarks/active_learning.py --tiny     # seconds: what the test suite runs

Every (strategy, seed) pair starts from the same pretrained model and its own random seed set, queries
--batch labels per round from --candidates sampled pool sentences, and fine-tunes warm-started. Writes
benchmarks/results/active_learning.json (or --output) and prints a line for the README's results table.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from _common import benchmark_parser, load_sst2_or_explain, results_header, write_results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings; --tiny shrinks everything for a smoke run."""
    parser = benchmark_parser(__doc__, "active_learning", "sst2", batch_size=16)
    parser.add_argument("--strategies", nargs="+", default=["random", "entropy", "explore_exploit"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seed-size", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="labels queried per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--beta", type=float, default=0.5, help="exploration share of explore_exploit")
    parser.add_argument("--epochs-per-round", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.85, 0.88])
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_size, args.seed_size, args.batch, args.rounds, args.candidates = 64, 8, 8, 2, 16
        args.seeds, args.epochs_per_round, args.batch_size = [0], 1, 8
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every strategy with every seed on the same split and write the learning curves and labels-to-target."""
    args = parse_args(argv)
    data = load_sst2_or_explain(args)
    if data is None:
        return 0
    from curiolib.active import ActiveLearningConfig, labels_to_reach, run_active_learning
    from curiolib.models import load_model_for_task
    from curiolib.notebook import quiet

    quiet()
    results = results_header(args) | {"pool": len(data["train"]), "validation": len(data["validation"]),
                                      "curves": {}, "labels_to_target": {}}
    for strategy in args.strategies:
        curves = []
        for seed in args.seeds:
            config = ActiveLearningConfig(strategy=strategy, seed_size=args.seed_size, batch_size=args.batch,
                                          rounds=args.rounds, candidates=args.candidates, beta=args.beta,
                                          epochs_per_round=args.epochs_per_round, train_batch_size=args.batch_size,
                                          learning_rate=args.learning_rate, max_length=args.max_length, seed=seed,
                                          output_dir=str(args.work_dir / f"{strategy}_{seed}"))
            tokenizer, model = load_model_for_task(args.model, "sequence", ["negative", "positive"], seed=seed)
            run = run_active_learning(model, tokenizer, data, config)
            curves.append(run.history.to_dict("records"))
            final = run.history.iloc[-1]
            print(f"{strategy:>16} seed {seed}: {final['labels']:.0f} labels -> accuracy {final['accuracy']:.4f} "
                  f"({run.history['seconds'].sum() / 60:.1f} min)", flush=True)
        results["curves"][strategy] = curves
        needed = {}
        for target in args.targets:
            counts = np.array([labels_to_reach(pd.DataFrame(curve), target) for curve in curves])
            needed[str(target)] = {"per_seed": counts.tolist(), "reached": int(np.isfinite(counts).sum()),
                                   "mean": float(np.nanmean(counts)) if np.isfinite(counts).any() else None,
                                   "std": float(np.nanstd(counts)) if np.isfinite(counts).any() else None}
        results["labels_to_target"][strategy] = needed

    cells = []
    for strategy, needed in results["labels_to_target"].items():
        shown = [f"{v['mean']:.0f} ± {v['std']:.0f}" + ("" if v["reached"] == len(args.seeds) else
                                                        f" ({v['reached']}/{len(args.seeds)} seeds)")
                 if v["mean"] is not None else "not reached" for v in needed.values()]
        cells.append(f"{strategy}: " + " / ".join(shown))
    row = (f"| active learning (SST-2, labels to reach {' / '.join(str(t) for t in args.targets)}, "
           f"{len(args.seeds)} seeds) | " + "; ".join(cells) + " |")
    write_results(results, args.output, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
