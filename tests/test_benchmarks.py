"""The benchmark scripts run end to end on tiny settings and exit cleanly without their data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          timeout=900, env=env or os.environ.copy())


def test_sentiment_benchmark_runs_on_tiny_settings(data_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "sentiment.json"
    done = _run("sentiment.py", "--tiny", "--output", str(output), "--work-dir", str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())
    for key in ("validation_accuracy", "throughput_ratio", "train_examples_per_s", "p95_latency_ms",
                "tfidf_accuracy", "budget_accuracy", "settings", "versions", "machine"):
        assert key in results, key
    assert 0 <= results["validation_accuracy"] <= 1 and results["throughput_ratio"] > 1
    assert results["settings"]["tiny"] is True and "README row:" in done.stdout


def test_sentiment_benchmark_without_data_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CURIOLIB_DATA"}
    done = _run("sentiment.py", "--tiny", "--output", str(tmp_path / "x.json"), env=env)
    assert done.returncode == 0
    assert "set CURIOLIB_DATA" in done.stdout and not (tmp_path / "x.json").exists()
