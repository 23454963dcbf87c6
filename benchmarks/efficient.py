"""Efficient fine-tuning on SST-2: full fine-tuning against a distilled 3-layer student and LoRA (two ranks),
and float, int8, ONNX and ONNX int8 serving of the full model, beside the student.

    python -m benchmarks.efficient            # the full run (needs CURIOLIB_DATA with sst2/)
    python -m benchmarks.efficient --tiny     # seconds: what the test suite runs
    python -m benchmarks.efficient --resume   # skip the methods (and serving) already measured in --work-dir

Run from the repository root. Every method trains on the same split for the same number of optimizer steps,
each in its own process so that its peak memory (maximum resident set size) is its own; --resume skips a
method whose figures were saved and resumes an unfinished one from its last checkpoint (every
--checkpoint-every steps). Writes benchmarks/results/efficient.json (or --output) and prints the
README table.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ._common import (REPO_ROOT, BenchmarkSettings, Stages, latency_setting, load_sst2, parse_settings,
                      prepare_work_dir, results_header, run_main, setting, settings_dict, use_threads, write_json,
                      write_results)

if TYPE_CHECKING:  # for the hints only
    from datasets import DatasetDict

SETTINGS_FILE = "settings.json"  # the parent's settings, read by each method's process
STUDENT = "distilled student"  # the serving row's name begins so; the layer counts follow
# Each method's process imports this module afresh and trains one method from the parent's settings file.
CHILD = ("import sys; from benchmarks.efficient import child; "
         "sys.exit(child(sys.argv[1], sys.argv[2], int(sys.argv[3])))")


@dataclass
class EfficientSettings(BenchmarkSettings):
    """The efficient fine-tuning benchmark's settings (its training knobs: steps and batch size)."""

    NAME: ClassVar[str] = "efficient"
    TINY: ClassVar[dict[str, Any]] = {"threads": 1, "train_size": 32, "eval_size": 16, "max_length": 32, "steps": 2,
                                      "train_batch_size": 4, "ranks": [8], "latency_sentences": 3,
                                      "checkpoint_every": 1}

    ranks: list[int] = setting(help="LoRA ranks, each compared with full fine-tuning", factory=lambda: [8, 32])
    lora_targets: list[str] = setting(help="the Linear layers LoRA adapts, by name (query, key, value, dense: all)",
                                      factory=lambda: ["query", "key", "value", "dense"])
    lora_learning_rate: float = setting(1e-3, "LoRA's peak learning rate (full fine-tuning and distillation: 1e-4)")
    lora_alpha_ratio: float = setting(2.0, "LoRA's alpha as a multiple of the rank (the scale alpha/r)")
    steps: int = setting(1500, "optimizer steps of every method")
    train_batch_size: int = setting(32, "examples per optimizer step")
    checkpoint_every: int = setting(100, "optimizer steps between checkpoints, where --resume picks up")
    latency_sentences: int = latency_setting()

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "train_batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")


def figures_file(settings: EfficientSettings, method: str, rank: int) -> Path:
    """Where one method's process leaves its figures for the parent."""
    return settings.work_dir / f"{method.replace(' ', '_')}_{rank}.json"


def child(settings_file: str, method: str, rank: int) -> int:
    """Train one method (in its own process) from the parent's settings and write its figures."""
    from transformers import HfArgumentParser

    from curiolib.course.notebook import quiet
    from curiolib.efficient import FineTuneSettings, fine_tune_distilled, fine_tune_full, fine_tune_head, fine_tune_lora

    reset_peak_memory()
    quiet()
    (settings,) = HfArgumentParser(EfficientSettings).parse_json_file(settings_file)
    use_threads(settings)
    data = load_sst2(settings)
    training = FineTuneSettings(model_name=settings.model, epochs=1, batch_size=settings.train_batch_size,
                                max_length=settings.max_length, seed=settings.seed, max_steps=settings.steps,
                                output_dir=settings.work_dir, show_progress=False, resume=settings.resume,
                                checkpoint_every=settings.checkpoint_every)
    if method == "lora":
        training.learning_rate = settings.lora_learning_rate
        result = fine_tune_lora(data, training, rank=rank, targets=tuple(settings.lora_targets),
                                scale=settings.lora_alpha_ratio * rank)
    elif method == "distilled":  # the teacher is the full fine-tuning run's model, trained before this one
        from curiolib.finetune.models import load_model_for_task

        teacher = load_model_for_task(str(settings.work_dir / "full" / "model"), "sequence",
                                      data["train"].features["label"].names)[1]
        result = fine_tune_distilled(data, teacher, training)
    else:
        result = {"full": fine_tune_full, "frozen encoder": fine_tune_head}[method](data, training)
    write_json(figures_file(settings, method, rank),
               result.row() | {"method_key": method, "rank": result.rank, "steps": settings.steps,
                               "peak memory MB": peak_memory_mb()})
    return 0


def reset_peak_memory() -> None:
    """Start this process's peak resident memory afresh (Linux), so it is not the parent's that it inherited.

    A child's high-water mark starts at its parent's resident memory when it was spawned; after serving, the
    parent holds several models, which would set a floor under the methods trained after it.
    """
    from curiolib.classroom.memory import reset_high_water_mark

    reset_high_water_mark(os.getpid())  # False off Linux: the parent's ru_maxrss is the figure


def peak_memory_mb() -> float | None:
    """This process's peak resident memory in MB since `reset_peak_memory` (Linux's VmHWM), or None."""
    from curiolib.classroom.memory import status_bytes

    peak = status_bytes(os.getpid(), "VmHWM")
    return peak / 2**20 if peak else None


def run_child(settings: EfficientSettings, method: str, rank: int) -> dict:
    """Run `child` in a fresh process; its figures carry its own peak resident memory (else the kernel's
    accounting of the process, which starts from the parent's)."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-c", CHILD, str(settings.work_dir / SETTINGS_FILE), method, str(rank)]
    process = subprocess.Popen(command, env=os.environ | {"PYTHONPATH": path})
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"training {method} (rank {rank}) failed with exit code {process.returncode}")
    figures = json.loads(figures_file(settings, method, rank).read_text())
    if figures.get("peak memory MB") is None:  # the child could not read its own: the kernel's accounting
        figures["peak memory MB"] = usage.ru_maxrss / 1024  # Linux: kB
    print(f"{figures['method']:>12}: validation accuracy {figures['validation accuracy']:.4f}, "
          f"{figures['trainable parameters']:,} trainable ({figures['trainable share']:.2%}), "
          f"{figures['train examples/s']:.0f} ex/s, peak {figures['peak memory MB']:.0f} MB, "
          f"saved {figures['saved MB']:.1f} MB", flush=True)
    return figures


def serving_versions(settings: EfficientSettings, data: DatasetDict) -> dict:
    """Float, int8 and ONNX versions of the fully fine-tuned model, on the validation split."""
    from curiolib.efficient import compare_serving
    from curiolib.finetune.models import load_model_for_task

    label_names = data["train"].features["label"].names
    tokenizer, model = load_model_for_task(str(settings.work_dir / "full" / "model"), "sequence", label_names)
    _, student = load_model_for_task(str(settings.work_dir / "distilled" / "model"), "sequence", label_names)
    validation = data["validation"].to_dict()
    serving = compare_serving(model, tokenizer, validation["sentence"], validation["label"],
                              work_dir=settings.work_dir / "serving", timed=settings.latency_sentences,
                              others={f"{STUDENT}, {student.config.num_hidden_layers} of "
                                      f"{model.config.num_hidden_layers} layers (PyTorch)": student})
    print(serving.round(4).to_string(), flush=True)
    return {"serving": serving.reset_index().to_dict("records")}


def main(argv: list[str] | None = None) -> int:
    """Train the full model and the student, compare serving versions of both, train the LoRA ranks; write."""
    (settings,) = parse_settings(__doc__, EfficientSettings, argv=argv)
    from curiolib.course.notebook import quiet

    quiet()
    use_threads(settings)
    data = load_sst2(settings)
    methods = [("full", 0), ("distilled", 0)] + [("lora", rank) for rank in settings.ranks]
    # the fine-tuners name their folders full/, frozen_encoder/, distilled/ and lora_r<rank>/; the figures files
    # are this module's.
    own = [SETTINGS_FILE, "serving", "full", "distilled"] + [f"lora_r{rank}" for rank in settings.ranks]
    prepare_work_dir(settings, own=own + [figures_file(settings, *m).name for m in methods])
    everything = settings_dict(settings)
    stages = Stages(settings, everything)
    write_json(settings.work_dir / SETTINGS_FILE, asdict(settings))
    import pandas as pd

    def train(method: str, rank: int) -> dict:
        return stages.run(f"train {method} {rank}", lambda: run_child(settings, method, rank))

    # Serving needs only the full model and the student: it runs before LoRA, so a run stopped during the
    # LoRA ranks has its serving figures saved, and a --resume finishes the ranks alone.
    assert [method for method, _ in methods[:2]] == ["full", "distilled"]
    training = [train(*method) for method in methods[:2]]
    serving = pd.DataFrame(stages.run("serving", lambda: serving_versions(settings, data))["serving"])
    serving = serving.set_index("version")
    training += [train(*method) for method in methods[2:]]

    full, float_row = training[0], serving.iloc[0]
    results = results_header(settings, everything) | {
        "training": training, "serving": serving.reset_index().to_dict("records"),
        "lora_gap_points": {f"r={m['rank']}": 100 * (full["validation accuracy"] - m["validation accuracy"])
                            for m in training if m["method_key"] == "lora"},
        "distilled_gap_points": -serving.loc[next(v for v in serving.index if v.startswith(STUDENT)),
                                             "change vs float (points)"],
        "speedup_vs_float": {name: row["sentences/s"] / float_row["sentences/s"] for name, row in serving.iterrows()}}
    table = ["| method / version | validation accuracy | trainable parameters | train ex/s | peak memory | "
             "size on disk | p50 / p95 latency | sentences/s |", "|---|---|---|---|---|---|---|---|"]
    for m in training:
        table.append(f"| {m['method']} | {m['validation accuracy']:.3f} | {m['trainable parameters']:,} "
                     f"({m['trainable share']:.1%}) | {m['train examples/s']:.0f} | {m['peak memory MB']:.0f} MB | "
                     f"{m['saved MB']:.1f} MB | | |")
    for name, row in serving.iterrows():
        change = (f"; {row['change vs float (points)']:+.1f} points, {row['change low']:+.1f} to "
                  f"{row['change high']:+.1f}" if name != serving.index[0] else "")
        table.append(f"| {name} | {row['accuracy']:.3f} (agrees {row['agreement with float']:.1%}{change}) | | | | "
                     f"{row['size MB']:.0f} MB | {row['p50 ms']:.1f} / {row['p95 ms']:.1f} ms | "
                     f"{row['sentences/s']:.0f} |")
    write_results(results, settings.output, "\n" + "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
