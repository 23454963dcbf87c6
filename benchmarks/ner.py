"""NER benchmark on CoNLL-2003: entity-level test F1 (overall and per type), speed, and the seen-entity baseline.

    python benchmarks/ner.py            # the full run (needs CURIOLIB_DATA with conll2003/)
    python benchmarks/ner.py --tiny     # seconds: what the test suite runs

The epoch is chosen on validation; the test split is scored once per trained model. Writes
benchmarks/results/ner.json (or --output) and prints a line for the README's results table.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time

from _common import benchmark_parser, data_root_or_explain, results_header, write_results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings; --tiny shrinks everything for a smoke run."""
    parser = benchmark_parser(__doc__, "ner", "conll2003", max_length=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--train-minutes", type=float, default=60.0, help="hard cap of the main run")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="the short-budget run")
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_size, args.epochs, args.train_minutes, args.budget_minutes = 64, 1, 1.0, 0.05
        args.batch_size, args.latency_sentences = 8, 10
    return args


def fine_tune(args, data, tag_names, *, minutes: float, max_steps: int | None, name: str):
    """One training run on CoNLL-2003 train, the best epoch on validation kept; returns model, tokenizer, result."""
    from transformers import DataCollatorForTokenClassification

    from curiolib.data import tokenize_ner_dataset
    from curiolib.finetune.loop import TrainingConfig, train
    from curiolib.finetune.models import load_model_for_task
    from curiolib.tasks.ner import ner_metrics

    tokenizer, model = load_model_for_task(args.model, "token", tag_names, seed=args.seed)
    train_set = tokenize_ner_dataset(data["train"], tokenizer, max_length=args.max_length)
    validation_set = tokenize_ner_dataset(data["validation"], tokenizer, max_length=args.max_length)
    shutil.rmtree(args.work_dir / name, ignore_errors=True)
    config = TrainingConfig(output_dir=str(args.work_dir / name), epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, warmup_ratio=args.warmup_ratio, seed=args.seed,
                            max_steps=max_steps, time_budget_s=minutes * 60, metric_for_best="f1",
                            load_best_at_end=True)
    result = train(model, train_set, validation_set, collator=DataCollatorForTokenClassification(tokenizer),
                   compute_metrics=ner_metrics(tag_names), config=config)
    return model, tokenizer, result


def score_on_test(model, tokenizer, data, tag_names, max_length: int) -> tuple[dict, float]:
    """Entity-level scores on the test split (scored once) and the batched inference speed in sentences/s."""
    from transformers import DataCollatorForTokenClassification

    from curiolib.data import tokenize_ner_dataset
    from curiolib.finetune.loop import predict
    from curiolib.tasks.ner import entity_scores, word_level_tags

    test_set = tokenize_ner_dataset(data["test"], tokenizer, max_length=max_length)
    start = time.perf_counter()
    logits, labels = predict(model, test_set, DataCollatorForTokenClassification(tokenizer), batch_size=64)
    speed = len(test_set) / (time.perf_counter() - start)
    return entity_scores(*word_level_tags(logits, labels, tag_names)), speed


def by_type(scores: dict) -> dict:
    """The per-type F1 entries of `entity_scores`, keyed by type."""
    return {name[3:]: value for name, value in scores.items() if name.startswith("f1_")}


def main(argv: list[str] | None = None) -> int:
    """Run every measurement in one process, on the standard split, and write the results."""
    args = parse_args(argv)
    from curiolib.course.notebook import quiet, seed_everything
    from curiolib.data import load_ner

    data_dir = data_root_or_explain(args, "conll2003", "conll2003/train.txt, validation.txt and test.txt")
    if data_dir is None:
        return 0
    quiet()
    seed_everything(args.seed)
    from curiolib.efficient.serving import measure_latency
    from curiolib.finetune.inference import find_entities
    from curiolib.tasks.ner import dataset_tags, entity_scores, seen_entity_baseline

    data = load_ner("conll2003", data_dir=data_dir)
    if args.train_size:
        data["train"] = data["train"].shuffle(seed=args.seed).select(range(args.train_size))
        for split in ("validation", "test"):
            data[split] = data[split].select(range(min(len(data[split]), 2 * args.train_size)))
    tag_names = data["train"].features["ner_tags"].feature.names
    results = results_header(args) | {"tag_names": tag_names,
                                      "sentences": {split: len(rows) for split, rows in data.items()}}

    train_words, train_tags = dataset_tags(data["train"])
    test_words, test_tags = dataset_tags(data["test"])
    baseline = entity_scores(test_tags, seen_entity_baseline(train_words, train_tags, test_words))
    results |= {"baseline_f1": baseline["f1"], "baseline_f1_by_type": by_type(baseline)}
    print(f"seen-entity baseline: test F1 {baseline['f1']:.4f}", flush=True)

    model, tokenizer, main_run = fine_tune(args, data, tag_names, minutes=args.train_minutes, max_steps=None,
                                           name="main")
    test, inference_speed = score_on_test(model, tokenizer, data, tag_names, args.max_length)
    evaluations = main_run.history.dropna(subset=["eval_f1"])
    results |= {"test_f1": test["f1"], "test_precision": test["precision"], "test_recall": test["recall"],
                "test_f1_by_type": by_type(test), "test_token_accuracy": test["token_accuracy"],
                "validation_f1": main_run.best_metric, "best_step": main_run.best_step,
                "train_examples_per_s": main_run.train_examples_per_s, "train_seconds": main_run.train_seconds,
                "train_steps": main_run.steps, "inference_sentences_per_s": inference_speed,
                "validation_f1_by_epoch": evaluations[["epoch", "seconds", "eval_f1"]].to_dict("records")}
    print(f"main run: {main_run.steps} steps in {main_run.train_seconds / 60:.1f} min "
          f"({main_run.train_examples_per_s:.0f} ex/s); best validation F1 {main_run.best_metric:.4f} at step "
          f"{main_run.best_step}; test F1 {test['f1']:.4f} "
          f"({', '.join(f'{k} {v:.3f}' for k, v in by_type(test).items())})", flush=True)

    raw = [" ".join(words) for words in test_words[: args.latency_sentences]]
    timing = measure_latency(lambda text: find_entities(text, model, tokenizer),
                             lambda texts: find_entities(texts, model, tokenizer), raw)
    results |= {"p50_latency_ms": timing.p50_ms, "p95_latency_ms": timing.p95_ms,
                "raw_text_sentences_per_s": timing.sentences_per_s}
    print(f"raw-text entities, one sentence at a time: p50 {timing.p50_ms:.1f} ms, p95 {timing.p95_ms:.1f} ms; "
          f"batched tagging of tokenized test sentences {inference_speed:.0f} sentences/s", flush=True)

    # The short budget: its schedule is sized to the steps that fit at the main run's average speed.
    budget_steps = max(1, int(args.budget_minutes * 60 * main_run.steps / main_run.train_seconds * 0.95))
    model, tokenizer, budget = fine_tune(args, data, tag_names, minutes=args.budget_minutes,
                                         max_steps=budget_steps, name="budget")
    budget_test, _ = score_on_test(model, tokenizer, data, tag_names, args.max_length)
    results |= {"budget_minutes": args.budget_minutes, "budget_test_f1": budget_test["f1"],
                "budget_validation_f1": budget.best_metric, "budget_steps": budget.steps,
                "budget_train_seconds": budget.train_seconds}
    print(f"{args.budget_minutes:g}-minute budget: {budget.steps} steps in {budget.train_seconds:.0f} s, "
          f"validation F1 {budget.best_metric:.4f}, test F1 {budget_test['f1']:.4f}", flush=True)

    row = (f"| NER (CoNLL-2003 test, entity F1) | {results['test_f1']:.3f} in "
           f"{results['train_seconds'] / 60:.0f} min | {results['budget_test_f1']:.3f} | "
           f"{results['baseline_f1']:.3f} (seen entities) | {results['train_examples_per_s']:.0f} ex/s train, "
           f"{inference_speed:.0f} sentences/s | {results['p95_latency_ms']:.0f} ms |")
    write_results(results, args.output, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
