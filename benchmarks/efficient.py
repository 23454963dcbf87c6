"""Efficient fine-tuning on SST-2: full fine-tuning against LoRA (two ranks), then float, int8 and ONNX serving.

    python benchmarks/efficient.py            # the full run (needs CURIOLIB_DATA with sst2/)
    python benchmarks/efficient.py --tiny     # seconds: what the test suite runs

Every method trains on the same split for the same number of optimizer steps, each in its own process
so that its peak memory (maximum resident set size) is its own. Writes benchmarks/results/efficient.json
(or --output) and prints the README table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _common import benchmark_parser, load_sst2_or_explain, results_header, write_results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings; --tiny shrinks everything for a smoke run."""
    parser = benchmark_parser(__doc__, "efficient", "sst2")
    parser.add_argument("--ranks", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps of every method")
    parser.add_argument("--reuse-training", action="store_true",
                        help="take each method's figures and saved model from --work-dir (a finished run's)")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "RANK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_size, args.steps, args.batch_size, args.latency_sentences = 64, 4, 8, 10
        args.ranks = args.ranks[:2]
    return args


def child(args) -> int:
    """Train one method (in its own process) and write its figures for the parent."""
    from curiolib.course.notebook import quiet
    from curiolib.efficient import fine_tune_with

    quiet()
    method, rank = args.child[0], int(args.child[1])
    data = load_sst2_or_explain(args)
    result = fine_tune_with(method, data, model_name=args.model, rank=rank, epochs=1, batch_size=args.batch_size,
                            max_length=args.max_length, seed=args.seed, max_steps=args.steps,
                            output_dir=args.work_dir, show_progress=False)
    figures = result.row() | {"method_key": method, "rank": result.rank, "steps": args.steps}
    (args.work_dir / f"{method.replace(' ', '_')}_{rank}.json").write_text(json.dumps(figures))
    return 0


def run_child(args, method: str, rank: int) -> dict:
    """Run `child` in a fresh process; add its peak resident memory, read from the kernel's accounting."""
    command = [sys.executable, __file__, "--child", method, str(rank), "--steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--max-length", str(args.max_length), "--seed", str(args.seed),
               "--model", args.model, "--work-dir", str(args.work_dir)]
    if args.train_size:
        command += ["--train-size", str(args.train_size)]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    figures_file = args.work_dir / f"{method.replace(' ', '_')}_{rank}.json"
    if args.reuse_training and figures_file.exists():
        return json.loads(figures_file.read_text())
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"training {method} (rank {rank}) failed with exit code {process.returncode}")
    figures = json.loads(figures_file.read_text()) | {"peak memory MB": usage.ru_maxrss / 1024}  # Linux: kB
    figures_file.write_text(json.dumps(figures))
    return figures


def main(argv: list[str] | None = None) -> int:
    """Train every method, then compare serving versions of the fully fine-tuned model; write the results."""
    args = parse_args(argv)
    if args.child:
        return child(args)
    data = load_sst2_or_explain(args)
    if data is None:
        return 0
    args.work_dir.mkdir(parents=True, exist_ok=True)
    from curiolib.efficient import compare_serving
    from curiolib.finetune.models import load_model_for_task

    methods = [run_child(args, "full", 0)] + [run_child(args, "lora", rank) for rank in args.ranks]
    for figures in methods:
        print(f"{figures['method']:>12}: validation accuracy {figures['validation accuracy']:.4f}, "
              f"{figures['trainable parameters']:,} trainable ({figures['trainable share']:.2%}), "
              f"{figures['train examples/s']:.0f} ex/s, peak {figures['peak memory MB']:.0f} MB, "
              f"saved {figures['saved MB']:.1f} MB", flush=True)

    label_names = data["train"].features["label"].names
    tokenizer, model = load_model_for_task(str(args.work_dir / "full" / "model"), "sequence", label_names)
    validation = data["validation"].to_dict()
    serving = compare_serving(model, tokenizer, validation["sentence"], validation["label"],
                              work_dir=args.work_dir / "serving", timed=args.latency_sentences)
    print(serving.round(4).to_string(), flush=True)

    full, float_row = methods[0], serving.iloc[0]
    results = results_header(args) | {
        "training": methods, "serving": serving.reset_index().to_dict("records"),
        "lora_gap_points": {f"r={m['rank']}": 100 * (full["validation accuracy"] - m["validation accuracy"])
                            for m in methods[1:]},
        "speedup_vs_float": {name: row["sentences/s"] / float_row["sentences/s"] for name, row in serving.iterrows()}}
    table = ["| method / version | validation accuracy | trainable parameters | train ex/s | peak memory | "
             "size on disk | p50 / p95 latency | sentences/s |", "|---|---|---|---|---|---|---|---|"]
    for m in methods:
        table.append(f"| {m['method']} | {m['validation accuracy']:.3f} | {m['trainable parameters']:,} "
                     f"({m['trainable share']:.1%}) | {m['train examples/s']:.0f} | {m['peak memory MB']:.0f} MB | "
                     f"{m['saved MB']:.1f} MB | | |")
    for name, row in serving.iterrows():
        table.append(f"| {name} | {row['accuracy']:.3f} (agrees {row['agreement with float']:.1%}) | | | | "
                     f"{row['size MB']:.0f} MB | {row['p50 ms']:.1f} / {row['p95 ms']:.1f} ms | "
                     f"{row['sentences/s']:.0f} |")
    write_results(results, args.output, "\n" + "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
