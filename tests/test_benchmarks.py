"""The benchmark scripts run end to end on tiny settings and exit cleanly without their data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          timeout=900, env=env or os.environ.copy())


BENCHMARK_KEYS = {
    "sentiment.py": ("validation_accuracy", "throughput_ratio", "train_examples_per_s", "p95_latency_ms",
                     "tfidf_accuracy", "budget_accuracy"),
    "ner.py": ("test_f1", "test_f1_by_type", "train_examples_per_s", "baseline_f1", "budget_test_f1",
               "inference_sentences_per_s", "p95_latency_ms"),
    "efficient.py": ("training", "serving", "lora_gap_points", "speedup_vs_float"),
    "active_learning.py": ("labels_to_target", "accuracy", "curves", "pool"),
}


@pytest.mark.parametrize("script", BENCHMARK_KEYS)
def test_benchmark_runs_on_tiny_settings(script: str, data_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = _run(script, "--tiny", "--output", str(output), "--work-dir", str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())
    for key in BENCHMARK_KEYS[script] + ("settings", "versions", "machine"):
        assert key in results, key
    assert results["settings"]["tiny"] is True and "README row:" in done.stdout
    for key in ("validation_accuracy", "tfidf_accuracy", "test_f1", "baseline_f1"):
        assert 0 <= results.get(key, 0) <= 1, key
    assert results.get("throughput_ratio", 2) > 1


@pytest.mark.parametrize("script", BENCHMARK_KEYS)
def test_benchmark_without_data_says_what_to_set(script: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CURIOLIB_DATA"}
    done = _run(script, "--tiny", "--output", str(tmp_path / "x.json"), env=env)
    assert done.returncode == 0
    assert "set CURIOLIB_DATA" in done.stdout and not (tmp_path / "x.json").exists()
