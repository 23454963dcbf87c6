"""Active learning on SST-2: labels each strategy needs to reach a validation accuracy, over several seeds.

    python -m benchmarks.active_learning            # the full run (needs CURIOLIB_DATA with sst2/)
    python -m benchmarks.active_learning --tiny     # seconds: what the test suite runs
    python -m benchmarks.active_learning --resume   # continue the runs saved in --work-dir

Run from the repository root. Every (strategy, seed) pair starts from the same pretrained model with its own
random seed set, grows its labelled set along --label-schedule (100, 300, 500, 1,000, 2,000), each
round's labels picked from --candidates sampled pool sentences (4,000), and each round retrains the
pretrained model from scratch on every label so far with the plain recipe (4 epochs, batch 16, lr 1e-4):
so the "random" strategy is the peer "random labels, trained from scratch", on equal training. The second
peer, a logistic regression on the frozen encoder's mean-pooled vectors, is fitted on the random runs'
labels at every size. Writes benchmarks/results/active_learning.json (or --output) with the learning curves
(and a .png of them beside it) and prints a line for the README's results table. --resume continues each
run from the last round saved in --work-dir, and skips the runs that finished.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from ._common import (BenchmarkSettings, Stages, load_sst2, parse_settings, prepare_work_dir, results_header,
                      run_main, setting, settings_dict, use_threads, write_results)

if TYPE_CHECKING:  # for the hints only: curiolib.active loads torch
    from curiolib.active import ActiveLearningConfig, ActiveLearningRun


FROZEN_PEER = "frozen embeddings + LR"  # the second plain recipe, on the random runs' labels


@dataclass
class ActiveLearningSettings(BenchmarkSettings):
    """The active-learning benchmark's settings (the loop's knobs are `LoopSettings`)."""

    NAME: ClassVar[str] = "active_learning"
    TINY: ClassVar[dict[str, Any]] = {"threads": 1, "train_size": 32, "eval_size": 16, "max_length": 32, "seeds": [0],
                                      "label_schedule": [4, 8], "candidates": 8, "epochs_per_round": 1,
                                      "train_batch_size": 4, "compare_at": 8}

    targets: list[float] = setting(help="validation accuracies whose label cost is reported",
                                   factory=lambda: [0.8, 0.85, 0.88])
    compare_at: int = setting(500, "the labelled-set size at which every strategy is compared with the peers")


@dataclass
class LoopSettings:
    """`curiolib.active.ActiveLearningConfig`'s knobs as flags, under its names, with the benchmark's defaults.

    Not `ActiveLearningConfig` itself: the benchmark runs every pair of --strategies and --seeds (a config
    holds one of each), names each run's folder in --work-dir (its ``output_dir``), takes ``max_length`` from
    `ActiveLearningSettings`, and HfArgumentParser cannot set an ``int | None`` field such as ``replay`` to
    None, so --replay -1 stands for it.
    """

    strategies: list[str] = setting(help="strategies compared", factory=lambda: ["random", "entropy",
                                                                                  "explore_exploit"])
    seeds: list[int] = setting(help="one run of every strategy per seed", factory=lambda: [0, 1, 2])
    label_schedule: list[int] = setting(help="labelled-set size after each round (the first drawn at random)",
                                        factory=lambda: [100, 300, 500, 1000, 2000])
    candidates: int = setting(4000, "pool sentences sampled and scored per round")
    diversity_share: float = setting(0.5, "share s of each explore_exploit batch chosen for diversity")
    training: str = setting("scratch", "'scratch': each round retrains the pretrained model on every label; "
                                       "'warm': continues from the last round's weights")
    epochs_per_round: int = setting(4, "passes over a round's training set")
    replay: int = setting(-1, "'warm' only: earlier labels re-read each round beside the new ones (-1: all)")
    train_batch_size: int = setting(16, "examples per optimizer step")
    learning_rate: float = setting(1e-4, "AdamW's peak learning rate")

    def __post_init__(self) -> None:
        # ActiveLearningConfig checks every value now, before any data is read (max_length is checked on use).
        self.configs(64, Path("."))

    def configs(self, max_length: int, work_dir: Path) -> dict[tuple[int, str], ActiveLearningConfig]:
        """One `ActiveLearningConfig` per (seed, strategy), seed-major: an interrupted run has every strategy
        at the seeds it finished."""
        from curiolib.active import ActiveLearningConfig

        return {(seed, strategy): ActiveLearningConfig(
                    strategy=strategy, label_schedule=self.label_schedule, candidates=self.candidates,
                    diversity_share=self.diversity_share, training=self.training,
                    epochs_per_round=self.epochs_per_round, replay=None if self.replay < 0 else self.replay,
                    train_batch_size=self.train_batch_size, learning_rate=self.learning_rate,
                    max_length=max_length, seed=seed, output_dir=str(work_dir / f"{strategy}_{seed}"))
                for seed in self.seeds for strategy in self.strategies}


def labels_to_target(runs: list[ActiveLearningRun], targets: list[float]) -> dict:
    """Per target: labels each seed needed (None where it never got there), their mean and spread where reached.

    `curiolib.active.labels_to_target_table` gives the same mean and count as display strings ("2/3",
    "300–500"); the results need the per-seed numbers and the spread, so only `labels_to_reach` is shared.
    """
    from curiolib.active import labels_to_reach

    needed = {}
    for target in targets:
        counts = np.array([labels_to_reach(run.history, target) for run in runs])
        reached = np.isfinite(counts)
        needed[str(target)] = {"per_seed": [float(c) if np.isfinite(c) else None for c in counts],
                               "reached": int(reached.sum()),
                               "mean": float(counts[reached].mean()) if reached.any() else None,
                               "std": float(counts[reached].std()) if reached.any() else None}
    return needed


def accuracy_summary(runs: list[ActiveLearningRun]) -> dict:
    """Validation accuracy at every labelled-set size, final, best and mean over the rounds, per seed."""
    trained = [run.history.query("round > 0") for run in runs]
    accuracy = np.array([history["accuracy"].to_numpy() for history in trained])
    summary = {"final": accuracy[:, -1], "best": accuracy.max(1), "mean_over_rounds": accuracy.mean(1)}
    summary |= {f"at_{labels}": accuracy[:, column] for column, labels in enumerate(trained[0]["labels"])}
    return {name: {"per_seed": values.tolist(), "mean": float(values.mean()), "std": float(values.std())}
            for name, values in summary.items()}


def readme_row(results: dict, settings: ActiveLearningSettings, loop: LoopSettings) -> str:
    """The README table row: accuracy at --compare-at labels and labels to each target (mean ± spread)."""
    seeds, budget = len(loop.seeds), loop.label_schedule[-1]
    cells = []
    for strategy, needed in results["labels_to_target"].items():
        shown = [f"not reached in {budget:,}" if v["mean"] is None else f"{v['mean']:.0f} ± {v['std']:.0f}"
                 + ("" if v["reached"] == seeds else f" ({v['reached']}/{seeds} seeds)") for v in needed.values()]
        at = results["accuracy"][strategy].get(f"at_{settings.compare_at}")
        shown_at = f"{at['mean']:.3f} ± {at['std']:.3f} at {settings.compare_at}" if at else ""
        cells.append(f"{strategy}: {shown_at}; to {' / '.join(str(t) for t in settings.targets)}: " + " / ".join(shown))
    return (f"| active learning (SST-2, {seeds} seeds, {loop.training} training, {budget:,} labels at most) | "
            + "; ".join(cells) + " |")


def save_learning_curves(runs: dict[str, list[ActiveLearningRun]], targets: list[float], path: Path) -> None:
    """The strategies' learning curves (mean over seeds, min–max band) with the targets, as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    from curiolib._files import writing_atomically
    from curiolib.active import plot_learning_curves

    ax = plot_learning_curves(runs)
    for target in targets:
        ax.axhline(target, color="gray", ls=":", lw=1)
    ax.set_title("SST-2 validation accuracy against labels (band: min–max over seeds; dotted: targets)", fontsize=10)
    with writing_atomically(path) as partial:
        ax.figure.savefig(partial, format="png", dpi=110, bbox_inches="tight")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Run every strategy with every seed on the same split and write the learning curves and labels-to-target."""
    settings, loop = parse_settings(__doc__, ActiveLearningSettings, LoopSettings, argv=argv)
    from curiolib.course.notebook import quiet

    quiet()
    use_threads(settings)
    configs = loop.configs(settings.max_length, settings.work_dir)
    data = load_sst2(settings)
    prepare_work_dir(settings, own=[Path(config.output_dir).name for config in configs.values()])
    from curiolib.active import ActiveLearningRun, run_active_learning
    from curiolib.finetune.models import load_model_for_task

    everything = settings_dict(settings, loop)
    stages = Stages(settings, everything)
    results = results_header(settings, everything) | {"pool": len(data["train"]), "validation": len(data["validation"])}
    label_names = data["train"].features["label"].names
    pretrained: dict[int, tuple] = {}  # per seed: loaded once, every strategy starts from a copy

    def pretrained_for(seed: int) -> tuple:
        if seed not in pretrained:
            pretrained.clear()  # the previous seed's model is done with
            pretrained[seed] = load_model_for_task(settings.model, "sequence", label_names, seed=seed)
        return pretrained[seed]

    def one_run(seed: int, strategy: str) -> dict:
        tokenizer, model = pretrained_for(seed)
        run = run_active_learning(copy.deepcopy(model), tokenizer, data, configs[seed, strategy],
                                  resume=settings.resume)
        final = run.history.iloc[-1]
        print(f"{strategy:>16} seed {seed}: {final['labels']:.0f} labels -> accuracy {final['accuracy']:.4f} "
              f"({run.history['seconds'].sum() / 60:.1f} min)", flush=True)
        return {"history": run.history.to_dict("records"), "queried": run.queried}

    def frozen_peer(seed: int) -> dict:
        from curiolib.active import frozen_embedding_peer

        tokenizer, model = pretrained_for(seed)
        (peer,) = frozen_embedding_peer(model, tokenizer, data, [runs["random"][-1]], max_length=settings.max_length)
        print(f"{FROZEN_PEER:>16} seed {seed}: {peer.history['labels'].iloc[-1]:.0f} labels -> accuracy "
              f"{peer.history['accuracy'].iloc[-1]:.4f}", flush=True)
        return {"history": peer.history.to_dict("records"), "queried": peer.queried}

    runs: dict[str, list[ActiveLearningRun]] = {strategy: [] for strategy in loop.strategies}
    if "random" in loop.strategies:
        runs[FROZEN_PEER] = []
    for (seed, strategy), config in configs.items():
        saved = stages.run(f"run {strategy} {seed}", lambda s=seed, name=strategy: one_run(s, name))
        runs[strategy].append(ActiveLearningRun(config=config, history=pd.DataFrame(saved["history"]),
                                                queried=saved["queried"]))
        if strategy == "random":  # the peer reuses this run's random labels, size by size
            saved = stages.run(f"frozen peer {seed}", lambda s=seed: frozen_peer(s))
            runs[FROZEN_PEER].append(ActiveLearningRun(config=config, history=pd.DataFrame(saved["history"]),
                                                       queried=saved["queried"]))
    results["curves"] = {strategy: [run.history.to_dict("records") for run in strategy_runs]
                         for strategy, strategy_runs in runs.items()}
    results["labels_to_target"] = {strategy: labels_to_target(strategy_runs, settings.targets)
                                   for strategy, strategy_runs in runs.items()}
    results["accuracy"] = {strategy: accuracy_summary(strategy_runs) for strategy, strategy_runs in runs.items()}
    write_results(results, settings.output, readme_row(results, settings, loop))
    save_learning_curves(runs, settings.targets, settings.output.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
