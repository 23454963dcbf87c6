"""NER benchmark on CoNLL-2003: entity-level test F1 (overall and per type), speed, and the seen-entity baseline.

    python -m benchmarks.ner            # the full run (needs CURIOLIB_DATA with conll2003/)
    python -m benchmarks.ner --tiny     # seconds: what the test suite runs
    python -m benchmarks.ner --resume   # continue an interrupted run saved in --work-dir

Run from the repository root. The epoch is chosen on validation; the test split is scored once per trained
model. Stages: seen-entity baseline; the casing comparison (--compare-seeds seeds trained with and without
the learned case embedding for --compare-epochs epochs each, paired by seed); the main run (with the case
embedding unless --casing false), its test scores, raw-text latency, short-budget run; the refit: the main
run's recipe for the epochs it was best at (whole epochs, the last one rounded up where the time cap cut the main
run), on train + validation, its last weights the model (nothing left to choose on), test scored once; last, if
--sweep-learning-rates names any, one --compare-epochs run per peak rate with the main run's casing, scored on
validation only (a sweep informs the next run's choice; its models are not final, so test is not read). Writes
benchmarks/results/ner.json (or --output) and prints a line for the README's results table.

    python -m benchmarks.ner --resume --sweep-learning-rates 5e-5 1e-4 2e-4   # add a sweep to a finished run

(with the finished run's other flags; the results list the rates named, so name earlier ones again to keep them:
they are reused, not retrained).
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from ._common import (BenchmarkSettings, Stages, TrainingSettings, budget_steps, fine_tune, latency_setting,
                      parse_settings, prepare_work_dir, require_data, results_header, run_main, save_model, setting,
                      settings_dict, subset, use_threads, write_results)

if TYPE_CHECKING:  # for the hints only: torch and datasets load once the data is found
    import torch
    from datasets import DatasetDict


CASING_CHOICES = ("auto", "true", "false")
SWEEP_PREFIX = "sweep_lr_"


@dataclass
class NerSettings(BenchmarkSettings):
    """The NER benchmark's settings (its training knobs are `NerTrainingSettings`)."""

    NAME: ClassVar[str] = "ner"
    # The tiny budget ends on its steps, not the clock, so a --resume of it repeats the same run.
    TINY: ClassVar[dict[str, Any]] = {"threads": 1, "train_size": 32, "eval_size": 16, "max_length": 64, "epochs": 1,
                                      "train_batch_size": 8, "train_minutes": 1.0, "budget_minutes": 0.2,
                                      "latency_sentences": 3, "compare_seeds": 2, "compare_epochs": 1,
                                      "sweep_learning_rates": [1e-4, 3e-4]}

    max_length: int = setting(256, "tokens kept per sentence (generous: a cut sentence loses its last tags)")
    train_minutes: float = setting(60.0, "hard cap of each training run but the budget run")
    budget_minutes: float = setting(10.0, "the short-budget run")
    latency_sentences: int = latency_setting()
    casing: str = setting("auto", "the main, budget, refit and sweep runs' case embedding (curiolib.data.casing): "
                                  "auto (with it if the comparison's mean validation F1 is higher with it), true or "
                                  "false")
    compare_seeds: int = setting(3, "seeds 0, 1, ... trained with and without casing for the paired comparison")
    compare_epochs: int = setting(4, "epochs of each comparison and sweep run (the best on validation is kept)")
    sweep_learning_rates: list[float] = setting(help="peak learning rates, each trained --compare-epochs epochs with "
                                                     "the main run's casing and scored on validation (none: no sweep)",
                                                factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.casing not in CASING_CHOICES:
            raise ValueError(f"--casing must be one of {', '.join(CASING_CHOICES)}, got {self.casing!r}")
        if self.compare_seeds < (1 if self.casing == "auto" else 0) or self.compare_epochs < 1:
            raise ValueError("--compare-seeds must be at least 1 with --casing auto (0 skips the comparison "
                             f"otherwise) and --compare-epochs at least 1, got {self.compare_seeds} and "
                             f"{self.compare_epochs}")
        rates = self.sweep_learning_rates
        # Distinct as their stage names are: two rates that print alike would share a stage and a folder.
        if not all(math.isfinite(rate) and rate > 0 for rate in rates) or len(set(map(sweep_name, rates))) < len(rates):
            raise ValueError(f"--sweep-learning-rates must be finite, above 0 and distinct to 6 significant digits, "
                             f"got {rates}")


@dataclass
class NerTrainingSettings(TrainingSettings):
    """NER's training defaults: more epochs (the best one is kept) and a longer warm-up."""

    epochs: int = setting(10, "passes over the training set in the main run (the best on validation is kept)")
    warmup_ratio: float = setting(0.1, "share of the steps spent warming up")


def score_on_test(model: torch.nn.Module, tokenizer: Any, data: DatasetDict, tag_names: list[str],
                  max_length: int) -> tuple[dict, float]:
    """Entity-level scores on the test split (scored once) and the batched inference speed in sentences/s."""
    from transformers import DataCollatorForTokenClassification

    from curiolib.data import tokenize_ner_dataset
    from curiolib.data.casing import uses_casing
    from curiolib.finetune.loop import predict
    from curiolib.tasks.ner import entity_scores, word_level_tags

    test_set = tokenize_ner_dataset(data["test"], tokenizer, max_length=max_length, casing=uses_casing(model))
    start = time.perf_counter()
    logits, labels = predict(model, test_set, DataCollatorForTokenClassification(tokenizer), batch_size=64)
    speed = len(test_set) / (time.perf_counter() - start)
    return entity_scores(*word_level_tags(logits, labels, tag_names)), speed


def by_type(scores: dict) -> dict:
    """The per-type F1 entries of `entity_scores`, keyed by type."""
    return {name[3:]: value for name, value in scores.items() if name.startswith("f1_")}


def casing_summary(runs: dict, epochs: int) -> dict:
    """Test F1 with and without the case embedding, per seed, the paired gain with its 95 % interval, and the
    mean validation gain that `--casing auto` decides by."""
    import numpy as np

    from curiolib.growth import seed_interval

    seeds = sorted({run["seed"] for run in runs.values()})
    pick = {casing: [runs[f"{'cased' if casing else 'uncased'}_seed{s}"] for s in seeds] for casing in (False, True)}
    f1 = {casing: [run["test_f1"] for run in chosen] for casing, chosen in pick.items()}
    # A type neither predicted nor in the gold tags of a small test set has no F1: compare the types all runs have.
    types = sorted(set.intersection(*(set(run["test_f1_by_type"]) for run in runs.values())))
    mean, low, high = seed_interval([c - u for c, u in zip(f1[True], f1[False])])
    summary = {"epochs": epochs, "seeds": seeds, "runs": runs, "uncased_test_f1": f1[False],
               "cased_test_f1": f1[True], "gain": {"mean": mean, "low": low, "high": high},
               "validation_gain": float(np.mean([c["validation_f1"] - u["validation_f1"]
                                                 for c, u in zip(pick[True], pick[False])])),
               "gain_by_type": {t: float(np.mean([c["test_f1_by_type"][t] - u["test_f1_by_type"][t]
                                                  for c, u in zip(pick[True], pick[False])])) for t in types}}
    print(f"casing, {len(seeds)} seeds x {epochs} epochs: test F1 uncased {np.mean(f1[False]):.4f}, "
          f"cased {np.mean(f1[True]):.4f}; paired gain {mean:+.4f} (95% {low:+.4f} to {high:+.4f}); "
          f"validation gain {summary['validation_gain']:+.4f}", flush=True)
    return summary


def sweep_name(rate: float) -> str:
    """The stage and work-dir folder of the learning-rate sweep's run at ``rate``."""
    return f"{SWEEP_PREFIX}{rate:g}"


def run_folders(settings: NerSettings) -> list[str]:
    """The work-dir folders of this run's training runs, which a run without --resume clears."""
    comparison = [f"{kind}_seed{seed}" for seed in range(settings.compare_seeds) for kind in ("cased", "uncased")]
    # Every sweep folder there, not only this run's rates: the rates are not among the settings a --resume
    # matches, so a folder left by another run's sweep would otherwise be resumed as this run's.
    sweeps = {sweep_name(rate) for rate in settings.sweep_learning_rates} | {
        path.name for path in settings.work_dir.glob(f"{SWEEP_PREFIX}*") if path.is_dir()}
    return ["main", "budget", "refit", *comparison, *sorted(sweeps)]


def main(argv: list[str] | None = None) -> int:
    """Run every stage in one process, on the standard split, and write the results."""
    settings, training = parse_settings(__doc__, NerSettings, NerTrainingSettings, argv=argv)
    from curiolib.course.notebook import quiet, seed_everything
    from curiolib.data import load_ner

    quiet()
    use_threads(settings)
    data_dir = require_data(settings, "conll2003", "conll2003/train.txt, validation.txt and test.txt")
    data = subset(load_ner("conll2003", data_dir=data_dir), settings, evaluated=("validation", "test"))
    prepare_work_dir(settings, own=run_folders(settings))
    seed_everything(settings.seed)
    from curiolib.tasks.ner import dataset_tags, entity_scores, seen_entity_baseline

    tag_names = data["train"].features["ner_tags"].feature.names
    everything = settings_dict(settings, training)
    # Each sweep stage is named by its rate and changes no other stage's figures, so the rates are left out of
    # the settings a --resume must match: a finished run can take a sweep, or a sweep another rate.
    stages = Stages(settings, {k: v for k, v in everything.items() if k != "sweep_learning_rates"})
    results = results_header(settings, everything) | {"tag_names": tag_names,
                                                      "sentences": {split: len(rows) for split, rows in data.items()}}
    test_words, test_tags = dataset_tags(data["test"])
    trained: dict[str, tuple] = {}  # the main run's (tokenizer, model), while this process has it

    @cache
    def pretrained(casing: bool, seed: int) -> tuple:
        # Loaded once per (casing, seed), and only if a stage still needs it: every run trains a copy. Both
        # arguments are always given, so the cache never holds the same model under two keys.
        from curiolib.finetune.models import load_model_for_task

        return load_model_for_task(settings.model, "token", tag_names, seed=seed, casing=casing)

    @cache
    def tokenized(casing: bool) -> tuple:
        from curiolib.data import tokenize_ner_dataset

        tokenizer = pretrained(casing, settings.seed)[0]
        return tuple(tokenize_ner_dataset(data[split], tokenizer, max_length=settings.max_length, casing=casing)
                     for split in ("train", "validation"))

    def run(name: str, minutes: float, max_steps: int | None = None, *, casing: bool,
            seed: int = settings.seed, epochs: int = training.epochs,
            checkpoint_every: int | None = training.checkpoint_every,
            train_on_validation: bool = False, learning_rate: float = training.learning_rate) -> tuple:
        from datasets import concatenate_datasets
        from transformers import DataCollatorForTokenClassification

        from curiolib.tasks.ner import ner_metrics

        tokenizer, model = pretrained(casing, seed)
        train_set, validation_set = tokenized(casing)
        # Trained on validation too, a run has nothing left to choose on: its last weights are the model, and
        # its one evaluation, at the end, is not reported.
        selection = ({"load_best_at_end": False, "eval_every": "end"} if train_on_validation
                     else {"load_best_at_end": True})
        if train_on_validation:
            train_set = concatenate_datasets([train_set, validation_set])
        return fine_tune(model, train_set, validation_set, settings=dataclasses.replace(settings, seed=seed),
                         training=dataclasses.replace(training, epochs=epochs, checkpoint_every=checkpoint_every,
                                                      learning_rate=learning_rate),
                         name=name, collator=DataCollatorForTokenClassification(tokenizer),
                         compute_metrics=ner_metrics(tag_names), minutes=minutes, max_steps=max_steps,
                         metric_for_best="f1", **selection)

    def baseline() -> dict:
        train_words, train_tags = dataset_tags(data["train"])
        scores = entity_scores(test_tags, seen_entity_baseline(train_words, train_tags, test_words))
        print(f"seen-entity baseline: test F1 {scores['f1']:.4f}", flush=True)
        return {"baseline_f1": scores["f1"], "baseline_f1_by_type": by_type(scores)}

    def main_run() -> dict:
        model, result = run("main", settings.train_minutes, casing=main_casing)
        trained["main"] = pretrained(main_casing, settings.seed)[0], model
        save_model(model, trained["main"][0], settings.work_dir / "main" / "model")
        evaluations = result.history.dropna(subset=["eval_f1"])
        print(f"main run: {result.steps} steps in {result.train_seconds / 60:.1f} min "
              f"({result.train_examples_per_s:.0f} ex/s); best validation F1 {result.best_metric:.4f} at step "
              f"{result.best_step}", flush=True)
        return {"validation_f1": result.best_metric, "best_step": result.best_step,
                "train_examples_per_s": result.train_examples_per_s, "train_seconds": result.train_seconds,
                "train_steps": result.steps,
                "validation_f1_by_epoch": evaluations[["epoch", "seconds", "eval_f1"]].to_dict("records")}

    def main_model() -> tuple:
        if "main" not in trained:  # a resumed run whose main stage was saved: its model is on disk
            from curiolib.finetune.models import load_model_for_task

            trained["main"] = load_model_for_task(str(settings.work_dir / "main" / "model"), "token", tag_names)
        return trained["main"]

    def test_scores() -> dict:
        tokenizer, model = main_model()
        test, speed = score_on_test(model, tokenizer, data, tag_names, settings.max_length)
        print(f"main run: test F1 {test['f1']:.4f} ({', '.join(f'{k} {v:.3f}' for k, v in by_type(test).items())}); "
              f"batched tagging of tokenized test sentences {speed:.0f} sentences/s", flush=True)
        return {"test_f1": test["f1"], "test_precision": test["precision"], "test_recall": test["recall"],
                "test_f1_by_type": by_type(test), "test_token_accuracy": test["token_accuracy"],
                "inference_sentences_per_s": speed}

    def latency() -> dict:
        from curiolib.efficient.serving import measure_latency
        from curiolib.finetune.inference import find_entities

        tokenizer, model = main_model()
        raw = [" ".join(words) for words in test_words[: settings.latency_sentences]]
        timing = measure_latency(lambda text: find_entities(text, model, tokenizer),
                                 lambda texts: find_entities(texts, model, tokenizer), raw)
        print(f"raw-text entities, one sentence at a time: p50 {timing.p50_ms:.1f} ms, "
              f"p95 {timing.p95_ms:.1f} ms", flush=True)
        return {"p50_latency_ms": timing.p50_ms, "p95_latency_ms": timing.p95_ms,
                "raw_text_sentences_per_s": timing.sentences_per_s}

    def budget_run() -> dict:
        steps = budget_steps(results["train_steps"], results["train_seconds"], settings.budget_minutes)
        model, budget = run("budget", settings.budget_minutes, max_steps=steps, casing=main_casing)
        budget_test, _ = score_on_test(model, pretrained(main_casing, settings.seed)[0], data, tag_names,
                                       settings.max_length)
        print(f"{settings.budget_minutes:g}-minute budget: {budget.steps} steps in {budget.train_seconds:.0f} s, "
              f"validation F1 {budget.best_metric:.4f}, test F1 {budget_test['f1']:.4f}", flush=True)
        return {"budget_minutes": settings.budget_minutes, "budget_test_f1": budget_test["f1"],
                "budget_validation_f1": budget.best_metric, "budget_steps": budget.steps,
                "budget_train_seconds": budget.train_seconds}

    def refit_run() -> dict:
        # What CoNLL systems did last: the epochs the main run was best at, again, on train + validation; test
        # is scored once. Where the cap cut the main run, its part-epoch counts as a whole one and the schedule
        # is sized to those epochs: not a choice the validation split made, so the record says the cap was hit.
        main_epoch = math.ceil(len(data["train"]) / training.train_batch_size)
        epochs = math.ceil(results["best_step"] / main_epoch)
        steps_per_epoch = math.ceil((len(data["train"]) + len(data["validation"])) / training.train_batch_size)
        # Its only evaluation comes at the end, so it saves for --resume once an epoch instead.
        model, refit = run("refit", settings.train_minutes, casing=main_casing, epochs=epochs,
                           checkpoint_every=training.checkpoint_every or steps_per_epoch, train_on_validation=True)
        test, _ = score_on_test(model, pretrained(main_casing, settings.seed)[0], data, tag_names, settings.max_length)
        planned = epochs * steps_per_epoch
        print(f"refit on train + validation, {epochs} epochs: {refit.steps} steps"
              f"{'' if refit.steps == planned else f' of {planned} (the cap ended it)'} in "
              f"{refit.train_seconds / 60:.1f} min, test F1 {test['f1']:.4f} "
              f"({', '.join(f'{k} {v:.3f}' for k, v in by_type(test).items())})", flush=True)
        return {"refit_epochs": epochs, "refit_planned_steps": planned, "refit_steps": refit.steps,
                "main_run_capped": results["train_steps"] < training.epochs * main_epoch,
                "refit_train_seconds": refit.train_seconds, "refit_test_f1": test["f1"],
                "refit_test_precision": test["precision"], "refit_test_recall": test["recall"],
                "refit_test_f1_by_type": by_type(test)}

    results |= stages.run("baseline", baseline)

    def comparison_run(casing: bool, seed: int) -> dict:
        name = f"{'cased' if casing else 'uncased'}_seed{seed}"
        model, result = run(name, settings.train_minutes, casing=casing, seed=seed, epochs=settings.compare_epochs)
        test, _ = score_on_test(model, pretrained(casing, seed)[0], data, tag_names, settings.max_length)
        print(f"{name}: {settings.compare_epochs} epochs in {result.train_seconds / 60:.1f} min, validation F1 "
              f"{result.best_metric:.4f}, test F1 {test['f1']:.4f} "
              f"({', '.join(f'{k} {v:.3f}' for k, v in by_type(test).items())})", flush=True)
        return {name: {"casing": casing, "seed": seed, "test_f1": test["f1"], "test_f1_by_type": by_type(test),
                       "validation_f1": result.best_metric, "train_seconds": result.train_seconds}}

    # First: the paired seeds are the finding, and each run fits in a session at one thread.
    runs: dict = {}
    for seed in range(settings.compare_seeds):
        for casing in (False, True):
            runs |= stages.run(f"compare_{'cased' if casing else 'uncased'}_{seed}",
                               lambda casing=casing, seed=seed: comparison_run(casing, seed))
    if runs:
        results["casing_comparison"] = casing_summary(runs, settings.compare_epochs)
    # Chosen on validation, never on test: the comparison's mean validation F1 with and without the embedding.
    main_casing = (settings.casing == "true" if settings.casing != "auto"
                   else results["casing_comparison"]["validation_gain"] > 0)
    results["main_casing"] = main_casing
    print(f"main run: {'with' if main_casing else 'without'} the case embedding (--casing {settings.casing})",
          flush=True)

    results |= stages.run("main", main_run)
    results |= stages.run("test", test_scores)
    results |= stages.run("latency", latency)
    results |= stages.run("budget", budget_run)
    results |= stages.run("refit", refit_run)

    def sweep_run(rate: float) -> dict:
        _, result = run(sweep_name(rate), settings.train_minutes, casing=main_casing, epochs=settings.compare_epochs,
                        learning_rate=rate)
        by_epoch = result.history.dropna(subset=["eval_f1"])["eval_f1"].tolist()
        print(f"learning rate {rate:g}, {settings.compare_epochs} epochs: validation F1 by epoch "
              f"{', '.join(f'{f1:.4f}' for f1 in by_epoch)} in {result.train_seconds / 60:.1f} min", flush=True)
        return {"validation_f1": result.best_metric, "validation_f1_by_epoch": by_epoch,
                "train_seconds": result.train_seconds}

    if settings.sweep_learning_rates:
        sweep = {f"{rate:g}": stages.run(sweep_name(rate), lambda rate=rate: sweep_run(rate))
                 for rate in settings.sweep_learning_rates}
        best = max(sweep, key=lambda rate: sweep[rate]["validation_f1"])
        results["learning_rate_sweep"] = {"epochs": settings.compare_epochs, "seed": settings.seed,
                                          "casing": main_casing, "runs": sweep, "best_on_validation": best}
        print(f"learning-rate sweep: best validation F1 {sweep[best]['validation_f1']:.4f} at {best} "
              f"(the main run used {training.learning_rate:g})", flush=True)

    row = (f"| NER (CoNLL-2003 test, entity F1) | {results['test_f1']:.3f} in "
           f"{results['train_seconds'] / 60:.0f} min | {results['budget_test_f1']:.3f} | "
           f"{results['baseline_f1']:.3f} (seen entities) | {results['train_examples_per_s']:.0f} ex/s train, "
           f"{results['inference_sentences_per_s']:.0f} sentences/s | {results['p95_latency_ms']:.0f} ms |")
    write_results(results, settings.output, row)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
