"""What every benchmark script shares: where the numbers were measured, and how results are written."""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def benchmark_parser(doc: str, name: str, data_folder: str, *, batch_size: int = 32,
                     max_length: int = 64) -> argparse.ArgumentParser:
    """The options every benchmark takes: data, model, sizes, seed, where to write, and --tiny."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help=f"folder with {data_folder}/ (default: $CURIOLIB_DATA)")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--max-length", type=int, default=max_length)
    parser.add_argument("--train-size", type=int, default=None, help="first N training sentences (default: all)")
    parser.add_argument("--latency-sentences", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS / f"{name}.json")
    parser.add_argument("--work-dir", type=Path, default=Path(f"runs/benchmark-{name}"))
    parser.add_argument("--tiny", action="store_true", help="64 examples, seconds of training: a smoke run")
    return parser


def data_root_or_explain(args: argparse.Namespace, folder: str, files: str) -> Path | None:
    """The data folder that holds ``folder``/, or None after saying what to set (a clean exit, not an error)."""
    from curiolib.data import resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    if root is None or not (root / folder).is_dir():
        print(f"{folder} not found: set CURIOLIB_DATA (or --data-dir) to a folder holding {files}. "
              "Nothing was measured.")
        return None
    return root


def results_header(args: argparse.Namespace) -> dict:
    """What every results file starts with: the settings, package versions and machine."""
    return {"settings": vars(args) | {"output": str(args.output), "work_dir": str(args.work_dir)},
            "versions": versions(), "machine": machine()}


def machine() -> dict:
    """Where the numbers were measured."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()}


def versions() -> dict:
    """Versions of the packages that shape the numbers."""
    from curiolib.course.notebook import versions as package_versions

    return package_versions()


def write_results(results: dict, output: Path, readme_row: str) -> None:
    """Write the results JSON and print the README row."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("README row:", readme_row)
    print(f"wrote {output}")


def load_sst2_or_explain(args: argparse.Namespace):
    """SST-2 train and validation (a seeded subset with --train-size), or None after saying what to set."""
    from curiolib.data import load_sentiment

    data_dir = data_root_or_explain(args, "sst2", "sst2/train.tsv and sst2/validation.tsv")
    if data_dir is None:
        return None
    data = load_sentiment("sst2", data_dir=data_dir)
    if args.train_size:
        data["train"] = data["train"].shuffle(seed=args.seed).select(range(args.train_size))
        data["validation"] = data["validation"].select(range(min(len(data["validation"]), 4 * args.train_size)))
    return data
