"""Sentiment benchmark on the full SST-2: accuracy, training speed against the tutorial recipe, latency.

    python benchmarks/sentiment.py                  # the full run (needs CURIOLIB_DATA with sst2/)
    python benchmarks/sentiment.py --tiny           # seconds: what the test suite runs

Writes benchmarks/results/sentiment.json (or --output) and prints a line for the README's results table.
"""
from __future__ import annotations

import argparse
import shutil
import sys

from _common import benchmark_parser, load_sst2_or_explain, results_header, write_results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings; --tiny shrinks everything for a smoke run."""
    parser = benchmark_parser(__doc__, "sentiment", "sst2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--train-minutes", type=float, default=60.0, help="hard cap of the main run")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="the short-budget run")
    parser.add_argument("--throughput-examples", type=int, default=128)
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_size, args.epochs, args.train_minutes, args.budget_minutes = 64, 1, 1.0, 0.05
        args.batch_size, args.throughput_examples, args.latency_sentences = 8, 16, 10
    return args


def fine_tune(args, data, tokenizer, *, minutes: float, max_steps: int | None, name: str):
    """One training run of the embedded model on SST-2 train, scored on validation."""
    from transformers import DataCollatorWithPadding

    from curiolib.data import tokenize_sentences
    from curiolib.finetune.loop import TrainingConfig, train
    from curiolib.finetune.models import load_model_for_task
    from curiolib.tasks.sentiment import classification_metrics

    _, model = load_model_for_task(args.model, "sequence", ["negative", "positive"], seed=args.seed)
    train_set = tokenize_sentences(data["train"], tokenizer, max_length=args.max_length)
    eval_set = tokenize_sentences(data["validation"], tokenizer, max_length=args.max_length)
    shutil.rmtree(args.work_dir / name, ignore_errors=True)
    config = TrainingConfig(output_dir=str(args.work_dir / name), epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, warmup_ratio=0.06, seed=args.seed,
                            max_steps=max_steps, time_budget_s=minutes * 60, load_best_at_end=False)
    result = train(model, train_set, eval_set, collator=DataCollatorWithPadding(tokenizer),
                   compute_metrics=classification_metrics, config=config)
    return model, result


def latency(model, tokenizer, sentences: list[str]) -> dict:
    """One sentence at a time, as the widget does: p50/p95 milliseconds; and batched sentences per second."""
    from curiolib.efficient.serving import measure_latency
    from curiolib.finetune.inference import classify

    timing = measure_latency(lambda sentence: classify(sentence, model, tokenizer),
                             lambda batch: classify(batch, model, tokenizer, batch_size=64), sentences)
    return {"p50_latency_ms": timing.p50_ms, "p95_latency_ms": timing.p95_ms,
            "inference_sentences_per_s": timing.sentences_per_s}


def main(argv: list[str] | None = None) -> int:
    """Run every measurement in one process, on the same split, and write the results."""
    args = parse_args(argv)
    from curiolib.course.notebook import quiet, seed_everything

    data = load_sst2_or_explain(args)
    if data is None:
        return 0
    quiet()
    seed_everything(args.seed)
    from curiolib.efficient.padding import compare_padding
    from curiolib.finetune.models import load_model_for_task
    from curiolib.tasks.sentiment import tfidf_baseline

    results = results_header(args) | {"train_examples": len(data["train"]),
                                      "validation_examples": len(data["validation"])}

    train_rows, eval_rows = data["train"].to_dict(), data["validation"].to_dict()
    baseline = tfidf_baseline(train_rows["sentence"], train_rows["label"], eval_rows["sentence"],
                              eval_rows["label"], seed=args.seed)
    results["tfidf_accuracy"] = baseline.accuracy
    print(f"TF-IDF + logistic regression: validation accuracy {baseline.accuracy:.4f}", flush=True)

    tokenizer, model = load_model_for_task(args.model, "sequence", ["negative", "positive"], seed=args.seed)
    sample = data["train"].shuffle(seed=args.seed).select(range(args.throughput_examples))
    speed = compare_padding(model, tokenizer, sample["sentence"], sample["label"], batch_size=args.batch_size)
    results |= {"throughput_ratio": speed.speedup, "max_length_examples_per_s": speed.max_length_examples_per_s,
                "dynamic_examples_per_s": speed.dynamic_examples_per_s,
                "padded_tokens_max_length": speed.padded_tokens_max_length,
                "padded_tokens_dynamic": speed.padded_tokens_dynamic}
    print(f"training speed on the same {speed.examples} examples: pad to 512 {speed.max_length_examples_per_s:.1f} "
          f"ex/s, dynamic padding + length grouping {speed.dynamic_examples_per_s:.1f} ex/s: "
          f"{speed.speedup:.1f}x", flush=True)

    model, main_run = fine_tune(args, data, tokenizer, minutes=args.train_minutes, max_steps=None, name="main")
    results |= {"validation_accuracy": main_run.final_metrics["accuracy"],
                "validation_f1": main_run.final_metrics["f1"],
                "train_examples_per_s": main_run.train_examples_per_s, "train_seconds": main_run.train_seconds,
                "train_steps": main_run.steps,
                "accuracy_by_epoch": main_run.history.dropna(subset=["eval_accuracy"])[
                    ["epoch", "seconds", "eval_accuracy"]].to_dict("records")}
    print(f"main run: {main_run.steps} steps in {main_run.train_seconds / 60:.1f} min "
          f"({main_run.train_examples_per_s:.0f} ex/s), validation accuracy "
          f"{main_run.final_metrics['accuracy']:.4f}", flush=True)

    # The short budget: its schedule is sized to the steps that fit at the main run's average speed
    # (the first steps alone mislead: the length-grouped sampler puts the longest batch first).
    budget_steps = max(1, int(args.budget_minutes * 60 * main_run.steps / main_run.train_seconds * 0.95))
    _, budget = fine_tune(args, data, tokenizer, minutes=args.budget_minutes, max_steps=budget_steps, name="budget")
    results |= {"budget_minutes": args.budget_minutes, "budget_accuracy": budget.final_metrics["accuracy"],
                "budget_steps": budget.steps, "budget_train_seconds": budget.train_seconds}
    print(f"{args.budget_minutes:g}-minute budget: {budget.steps} steps in {budget.train_seconds:.0f} s, "
          f"validation accuracy {budget.final_metrics['accuracy']:.4f}", flush=True)

    results |= latency(model, tokenizer, eval_rows["sentence"][: args.latency_sentences])
    print(f"inference: one sentence p50 {results['p50_latency_ms']:.1f} ms, p95 {results['p95_latency_ms']:.1f} ms; "
          f"batched {results['inference_sentences_per_s']:.0f} sentences/s", flush=True)

    row = (f"| sentiment (SST-2 validation) | {results['validation_accuracy']:.3f} in "
           f"{results['train_seconds'] / 60:.0f} min | {results['budget_accuracy']:.3f} | "
           f"{results['tfidf_accuracy']:.3f} | {results['throughput_ratio']:.0f}× | "
           f"{results['p95_latency_ms']:.0f} ms |")
    write_results(results, args.output, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
