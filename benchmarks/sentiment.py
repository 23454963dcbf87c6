"""Sentiment benchmark on the full SST-2: accuracy, training speed against the tutorial recipe, latency.

    python -m benchmarks.sentiment                  # the full run (needs CURIOLIB_DATA with sst2/)
    python -m benchmarks.sentiment --tiny           # seconds: what the test suite runs
    python -m benchmarks.sentiment --resume         # continue an interrupted run saved in --work-dir

Run from the repository root. Stages: TF-IDF baseline, padding speed, main run, short-budget run, latency.
Writes benchmarks/results/sentiment.json (or --output) and prints a line for the README's results table.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ._common import (BenchmarkSettings, Stages, TrainingSettings, budget_steps, fine_tune, latency_setting,
                      load_sst2, parse_settings, prepare_work_dir, results_header, run_main, save_model, setting,
                      settings_dict, use_threads, write_results)

if TYPE_CHECKING:  # for the hints only: torch and datasets load once the data is found
    import torch
    from datasets import DatasetDict


@dataclass
class SentimentSettings(BenchmarkSettings):
    """The sentiment benchmark's settings (its training knobs are `SentimentTrainingSettings`)."""

    NAME: ClassVar[str] = "sentiment"
    # The tiny budget ends on its steps, not the clock, so a --resume of it repeats the same run.
    TINY: ClassVar[dict[str, Any]] = {"threads": 1, "train_size": 32, "eval_size": 32, "max_length": 32, "epochs": 1,
                                      "train_batch_size": 4, "train_minutes": 1.0, "budget_minutes": 0.2,
                                      "throughput_examples": 4, "padded_length": 256, "latency_sentences": 3,
                                      "long_sentences": 8, "eval_every": 4}

    train_minutes: float = setting(60.0, "hard cap of the main run")
    budget_minutes: float = setting(10.0, "the short-budget run")
    throughput_examples: int = setting(128, "examples trained on padded to --padded-length and per batch, timed")
    # A smoke run pads to less than 512: one step of 512-token sentences takes seconds on a CPU.
    padded_length: int | None = setting(None, "the tutorials' fixed length (default: the model's limit, 512)")
    latency_sentences: int = latency_setting()
    long_sentences: int = setting(2000, "training sentences of 15-40 words classified batched, sorted by length "
                                        "and in input order (speed only)")


@dataclass
class SentimentTrainingSettings(TrainingSettings):
    """Sentiment's training knobs: each run (main and budget) ends with the mean of its evaluated weights."""

    learning_rate: float = setting(5e-5, "AdamW's peak learning rate")
    eval_every: int = setting(700, "optimizer steps between evaluations (the end of the run is evaluated too)")
    average_checkpoints: bool = setting(True, "finish with the mean of the weights at every evaluation "
                                              "(checkpoint averaging; the default); --no-average-checkpoints: "
                                              "with the last step's weights")

    def config(self, **fixed: Any) -> Any:
        """`TrainingSettings.config` with the evaluation interval and averaging; no best epoch is loaded."""
        return super().config(**({"eval_every": self.eval_every, "average_checkpoints": self.average_checkpoints,
                                  "load_best_at_end": False} | fixed))


def averaging_gain(averaged: torch.nn.Module, last_weights: Path, eval_set: Any, collator: Any) -> dict:
    """The averaged model against the last step's weights on the same sentences: McNemar and a paired interval."""
    import copy

    from safetensors.torch import load_file

    from curiolib.finetune.loop import predict
    from curiolib.tasks.sentiment import paired_accuracy_test

    last = copy.deepcopy(averaged)
    last.load_state_dict(load_file(last_weights))
    correct = {}
    for name, model in (("averaged", averaged), ("last", last)):
        logits, labels = predict(model, eval_set, collator)
        correct[name] = logits.argmax(-1) == labels
    test = paired_accuracy_test(correct["averaged"], correct["last"])
    print(f"checkpoint averaging: {correct['averaged'].mean():.4f} against the last step's weights "
          f"{correct['last'].mean():.4f}: {100 * test.difference:+.1f} points (95 % {100 * test.low:+.1f} to "
          f"{100 * test.high:+.1f}, McNemar p = {test.p_value:.2f})", flush=True)
    return {"last_step_accuracy": float(correct["last"].mean()), "averaging_gain": test.difference,
            "averaging_gain_low": test.low, "averaging_gain_high": test.high, "averaging_p_value": test.p_value}


def measure_tfidf(data: DatasetDict, seed: int) -> dict:
    """The TF-IDF + logistic regression baseline's validation accuracy."""
    from curiolib.tasks.sentiment import tfidf_baseline

    train_rows, eval_rows = data["train"].to_dict(), data["validation"].to_dict()
    baseline = tfidf_baseline(train_rows["sentence"], train_rows["label"], eval_rows["sentence"],
                              eval_rows["label"], seed=seed)
    print(f"TF-IDF + logistic regression: validation accuracy {baseline.accuracy:.4f}", flush=True)
    return {"tfidf_accuracy": baseline.accuracy}


def measure_padding(model: torch.nn.Module, tokenizer: Any, data: DatasetDict, settings: SentimentSettings,
                    batch_size: int) -> dict:
    """Training speed on the same examples padded to 512 (the tutorials' habit) and padded per batch."""
    from curiolib.efficient.padding import compare_padding

    sample = data["train"].shuffle(seed=settings.seed).select(range(settings.throughput_examples))
    speed = compare_padding(model, tokenizer, sample["sentence"], sample["label"], batch_size=batch_size,
                            max_length=settings.padded_length)
    length = speed.padded_tokens_max_length // speed.examples
    print(f"training speed on the same {speed.examples} examples: pad to {length} "
          f"{speed.max_length_examples_per_s:.1f} ex/s, dynamic padding + length grouping "
          f"{speed.dynamic_examples_per_s:.1f} ex/s: {speed.speedup:.1f}x (dynamic padding alone "
          f"{speed.padding_speedup:.1f}x, then length grouping {speed.grouping_speedup:.2f}x)", flush=True)
    return {"throughput_ratio": speed.speedup, "max_length_examples_per_s": speed.max_length_examples_per_s,
            "dynamic_examples_per_s": speed.dynamic_examples_per_s,
            "unsorted_examples_per_s": speed.unsorted_examples_per_s,
            "padding_ratio": speed.padding_speedup, "grouping_ratio": speed.grouping_speedup,
            "padded_tokens_max_length": speed.padded_tokens_max_length,
            "padded_tokens_dynamic": speed.padded_tokens_dynamic,
            "padded_tokens_unsorted": speed.padded_tokens_unsorted}


def latency(model: torch.nn.Module, tokenizer: Any, sentences: list[str]) -> dict:
    """One sentence at a time, as the widget does: p50/p95 milliseconds; and batched sentences per second."""
    from curiolib.efficient.serving import measure_latency
    from curiolib.finetune.inference import classify

    timing = measure_latency(lambda sentence: classify(sentence, model, tokenizer),
                             lambda batch: classify(batch, model, tokenizer, batch_size=64), sentences)
    print(f"inference: one sentence p50 {timing.p50_ms:.1f} ms, p95 {timing.p95_ms:.1f} ms; "
          f"batched {timing.sentences_per_s:.0f} sentences/s", flush=True)
    return {"p50_latency_ms": timing.p50_ms, "p95_latency_ms": timing.p95_ms,
            "inference_sentences_per_s": timing.sentences_per_s}


def sorted_batches(model: torch.nn.Module, tokenizer: Any, sets: dict[str, list[str]]) -> dict:
    """Batched sentences/s of `classify` with and without sorting by length, on each set of sentences."""
    import time

    from curiolib.finetune.inference import classify

    figures = {}
    for name, sentences in sets.items():
        for sort in (False, True):
            classify(sentences[:64], model, tokenizer, batch_size=64, sort_by_length=sort)  # warm-up
            start = time.perf_counter()
            classify(sentences, model, tokenizer, batch_size=64, sort_by_length=sort)
            figures[f"{name}_{'sorted' if sort else 'input_order'}_sentences_per_s"] = (
                len(sentences) / (time.perf_counter() - start))
        ratio = figures[f"{name}_sorted_sentences_per_s"] / figures[f"{name}_input_order_sentences_per_s"]
        figures[f"{name}_sorting_ratio"] = ratio
        print(f"batched classify, {len(sentences)} {name} sentences: input order "
              f"{figures[f'{name}_input_order_sentences_per_s']:.0f}/s, sorted by length "
              f"{figures[f'{name}_sorted_sentences_per_s']:.0f}/s ({ratio:.2f}x)", flush=True)
    return figures


def long_sentences(data: DatasetDict, count: int, seed: int) -> list[str]:
    """A seeded sample of ``count`` training sentences of 15 to 40 words (SST-2's full sentences, not phrases)."""
    words = [len(sentence.split()) for sentence in data["train"]["sentence"]]
    long = data["train"].select([i for i, n in enumerate(words) if 15 <= n <= 40])
    return list(long.shuffle(seed=seed).select(range(min(count, len(long))))["sentence"])


def main(argv: list[str] | None = None) -> int:
    """Run every stage in one process, on the same split, and write the results."""
    settings, training = parse_settings(__doc__, SentimentSettings, SentimentTrainingSettings, argv=argv)
    from curiolib.course.notebook import quiet, seed_everything

    quiet()
    use_threads(settings)
    data = load_sst2(settings)
    prepare_work_dir(settings, own=["main", "budget"])
    seed_everything(settings.seed)
    everything = settings_dict(settings, training)
    stages = Stages(settings, everything)
    results = results_header(settings, everything) | {"train_examples": len(data["train"]),
                                                      "validation_examples": len(data["validation"])}
    label_names = data["train"].features["label"].names
    trained: dict[str, tuple] = {}  # the main run's (tokenizer, model), while this process has it

    @cache
    def pretrained() -> tuple:
        # Loaded once, and only if a stage still needs it: every run trains a copy.
        from curiolib.finetune.models import load_model_for_task

        return load_model_for_task(settings.model, "sequence", label_names, seed=settings.seed)

    @cache
    def tokenized() -> tuple:
        from curiolib.data import tokenize_sentences

        return tuple(tokenize_sentences(data[split], pretrained()[0], max_length=settings.max_length)
                     for split in ("train", "validation"))

    def run(name: str, minutes: float, max_steps: int | None = None) -> tuple:
        from transformers import DataCollatorWithPadding

        from curiolib.tasks.sentiment import classification_metrics

        tokenizer, model = pretrained()
        return fine_tune(model, *tokenized(), settings=settings, training=training, name=name,
                         collator=DataCollatorWithPadding(tokenizer), compute_metrics=classification_metrics,
                         minutes=minutes, max_steps=max_steps)

    def main_run() -> dict:
        from transformers import DataCollatorWithPadding

        model, result = run("main", settings.train_minutes)
        trained["main"] = pretrained()[0], model
        save_model(model, pretrained()[0], settings.work_dir / "main" / "model")
        print(f"main run: {result.steps} steps in {result.train_seconds / 60:.1f} min "
              f"({result.train_examples_per_s:.0f} ex/s), validation accuracy "
              f"{result.final_metrics['accuracy']:.4f}", flush=True)
        figures = {"validation_accuracy": result.final_metrics["accuracy"],
                   "validation_f1": result.final_metrics["f1"], "train_examples_per_s": result.train_examples_per_s,
                   "train_seconds": result.train_seconds, "train_steps": result.steps,
                   "evaluations": result.history.dropna(subset=["eval_accuracy"])[
                       ["step", "epoch", "seconds", "eval_accuracy"]].to_dict("records")}
        if training.average_checkpoints:  # the last step's weights are still in the run's resume checkpoint
            figures |= averaging_gain(model, settings.work_dir / "main" / "last" / "model.safetensors",
                                      tokenized()[1], DataCollatorWithPadding(pretrained()[0]))
        return figures

    def budget_run() -> dict:
        steps = budget_steps(results["train_steps"], results["train_seconds"], settings.budget_minutes)
        _, budget = run("budget", settings.budget_minutes, max_steps=steps)
        print(f"{settings.budget_minutes:g}-minute budget: {budget.steps} steps in {budget.train_seconds:.0f} s, "
              f"validation accuracy {budget.final_metrics['accuracy']:.4f}", flush=True)
        return {"budget_minutes": settings.budget_minutes, "budget_accuracy": budget.final_metrics["accuracy"],
                "budget_steps": budget.steps, "budget_train_seconds": budget.train_seconds}

    def main_model() -> tuple:
        if "main" not in trained:  # a resumed run whose main stage was saved: its model is on disk
            from curiolib.finetune.models import load_model_for_task

            trained["main"] = load_model_for_task(str(settings.work_dir / "main" / "model"), "sequence",
                                                  label_names)
        return trained["main"]

    results |= stages.run("tfidf", lambda: measure_tfidf(data, settings.seed))
    results |= stages.run("padding", lambda: measure_padding(pretrained()[1], pretrained()[0], data, settings,
                                                             training.train_batch_size))
    results |= stages.run("main", main_run)
    results |= stages.run("budget", budget_run)
    sentences = data["validation"][: settings.latency_sentences]["sentence"]
    results |= stages.run("latency", lambda: latency(main_model()[1], main_model()[0], sentences))
    sets = {"long": long_sentences(data, settings.long_sentences, settings.seed),
            "validation": list(data["validation"]["sentence"])}
    results |= stages.run("sorted_batches", lambda: sorted_batches(main_model()[1], main_model()[0], sets))

    row = (f"| sentiment (SST-2 validation) | {results['validation_accuracy']:.3f} in "
           f"{results['train_seconds'] / 60:.0f} min | {results['budget_accuracy']:.3f} | "
           f"{results['tfidf_accuracy']:.3f} | {results['throughput_ratio']:.0f}× | "
           f"{results['p95_latency_ms']:.0f} ms |")
    write_results(results, settings.output, row)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
