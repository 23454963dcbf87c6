"""The benchmarks run end to end on tiny settings, resume what they saved, and refuse to run without their data."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)


BENCHMARK_KEYS = {
    "sentiment": ("validation_accuracy", "throughput_ratio", "train_examples_per_s", "p95_latency_ms",
                  "tfidf_accuracy", "budget_accuracy", "evaluations", "averaging_gain", "last_step_accuracy"),
    "ner": ("test_f1", "test_f1_by_type", "train_examples_per_s", "baseline_f1", "budget_test_f1", "casing_comparison",
            "inference_sentences_per_s", "p95_latency_ms", "refit_test_f1", "refit_epochs"),
    "efficient": ("training", "serving", "lora_gap_points", "distilled_gap_points", "speedup_vs_float"),
    "active_learning": ("labels_to_target", "accuracy", "curves", "pool"),
    "growth_fit": ("heldout_rmse", "beta_star_measured", "beta_star_model", "parameters", "standard_errors",
                   "by_cost"),
    "forgetting": ("forgetting_points", "beta_star_measured", "beta_star_model", "heldout_rmse", "by_learner"),
}
LATENCY_KEYS = {"p50_latency_ms", "p95_latency_ms", "inference_sentences_per_s"}


def _tiny(module: str, folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    return _run(module, "--tiny", "--output", str(folder / "results.json"), "--work-dir", str(folder / "work")), folder


def _group(module: str) -> pytest.MarkDecorator:
    """A benchmark's xdist group: the tests of its --tiny run run in one worker, which makes the run once."""
    return pytest.mark.xdist_group(f"benchmark-{module}")


@pytest.fixture(scope="session")
def tiny_run(once: Callable, data_dir: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[subprocess.CompletedProcess, Path]]:
    """A benchmark's --tiny run (one thread): (the process, its folder), made by the first of its tests to ask."""
    return lambda module: once(f"benchmark {module}", lambda: _tiny(module, tmp_path_factory.mktemp(module)))


@pytest.fixture
def benchmarks_importable():
    """The repository root on sys.path, so the tests can import the `benchmarks` package itself."""
    sys.path.insert(0, str(ROOT))
    yield
    sys.path.remove(str(ROOT))


@pytest.mark.slow
@pytest.mark.parametrize("module", [pytest.param(module, marks=_group(module)) for module in BENCHMARK_KEYS])
def test_benchmark_runs_on_tiny_settings(module: str, tiny_run: Callable, data_dir: Path,
                                        benchmarks_importable) -> None:
    done, folder = tiny_run(module)
    assert done.returncode == 0, done.stderr[-3000:]
    text = (folder / "results.json").read_text()
    results = json.loads(text)
    for key in BENCHMARK_KEYS[module] + ("settings", "versions", "machine"):
        assert key in results, key
    assert results["settings"]["tiny"] is True and "README row:" in done.stdout
    for key in ("validation_accuracy", "tfidf_accuracy", "test_f1", "baseline_f1"):
        assert 0 <= results.get(key, 0) <= 1, key
    assert results.get("throughput_ratio", 2) > 1
    if module == "ner":  # the refit's steps count the validation sentences as training data too
        per_epoch = math.ceil(sum(results["sentences"][split] for split in ("train", "validation"))
                              / results["settings"]["train_batch_size"])
        assert results["refit_steps"] == results["refit_epochs"] * per_epoch, results
        _check_sweep(results["learning_rate_sweep"], folder / "work", ["0.0001", "0.0003"])
    # No machine paths: output and work dir lie outside the repository here, the data came from the environment.
    assert results["settings"]["output"] is None and results["settings"]["work_dir"] is None
    assert results["settings"]["data_dir"] == "$CURIOLIB_DATA"
    assert str(folder) not in text and str(data_dir) not in text


def _check_sweep(sweep: dict, work: Path, rates: list[str]) -> None:
    """The NER learning-rate sweep ran each rate for its epochs, and each run's optimizer peaked at that rate."""
    import torch

    from benchmarks.ner import sweep_name

    assert list(sweep["runs"]) == rates and sweep["best_on_validation"] in rates
    for rate, run in sweep["runs"].items():
        assert len(run["validation_f1_by_epoch"]) == sweep["epochs"], run
        optimizer = torch.load(work / sweep_name(float(rate)) / "last" / "optimizer.bin")
        assert {group["initial_lr"] for group in optimizer["param_groups"]} == {float(rate)}


@pytest.mark.slow
@_group("ner")
def test_a_finished_ner_run_takes_a_sweep_of_other_rates_on_resume(tiny_run: Callable, benchmarks_importable) -> None:
    # The rates are not among the settings a --resume must match: only the new rate trains, the rest is reused.
    done, folder = tiny_run("ner")
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads((folder / "results.json").read_text())
    again = _run("ner", "--tiny", "--resume", "--sweep-learning-rates", "3e-4", "1e-3", "--output",
                 str(folder / "swept.json"), "--work-dir", str(folder / "work"))
    assert again.returncode == 0, again.stderr[-3000:]
    for stage in ("baseline", "main", "test", "latency", "budget", "refit", "sweep_lr_0.0003"):
        assert f"{stage}: reused from" in again.stdout, stage
    assert "sweep_lr_0.001: reused" not in again.stdout and "learning rate 0.001, 1 epochs" in again.stdout
    swept = json.loads((folder / "swept.json").read_text())
    _check_sweep(swept["learning_rate_sweep"], folder / "work", ["0.0003", "0.001"])
    assert swept["learning_rate_sweep"]["runs"]["0.0003"] == first["learning_rate_sweep"]["runs"]["0.0003"]
    unchanged = set(first) - {"settings", "learning_rate_sweep"}
    assert {k: swept[k] for k in unchanged} == {k: first[k] for k in unchanged}


@pytest.mark.slow
@_group("sentiment")
def test_benchmark_resumes_from_its_saved_stages(tiny_run: Callable) -> None:
    done, folder = tiny_run("sentiment")
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads((folder / "results.json").read_text())
    # As if interrupted after the main run: the budget run's checkpoint is there, its stage and latency are not.
    stages_file = folder / "work" / "stages.json"
    saved = json.loads(stages_file.read_text())
    del saved["stages"]["budget"], saved["stages"]["latency"]
    stages_file.write_text(json.dumps(saved))
    again = _run("sentiment", "--tiny", "--resume", "--output", str(folder / "resumed.json"),
                 "--work-dir", str(folder / "work"))
    assert again.returncode == 0, again.stderr[-3000:]
    for stage in ("tfidf", "padding", "main"):
        assert f"{stage}: reused from" in again.stdout, stage
    assert "budget: resuming training from" in again.stdout and "latency: reused" not in again.stdout
    resumed = json.loads((folder / "resumed.json").read_text())
    assert resumed["settings"] == first["settings"] | {"resume": True}
    # The resumed budget run ended where the first one did; only the re-measured latency differs.
    assert {k: v for k, v in resumed.items() if k not in LATENCY_KEYS | {"settings"}} == \
        {k: v for k, v in first.items() if k not in LATENCY_KEYS | {"settings"}}
    assert set(saved["stages"]) | {"budget", "latency"} == set(json.loads(stages_file.read_text())["stages"])


@pytest.mark.slow
def test_benchmark_refuses_a_work_dir_it_did_not_make(data_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "main").mkdir(parents=True)
    (work / "main" / "notes.txt").write_text("not the benchmark's")
    done = _run("sentiment", "--tiny", "--output", str(tmp_path / "x.json"), "--work-dir", str(work))
    assert done.returncode == 2 and "did not write" in done.stderr
    assert (work / "main" / "notes.txt").exists() and not (tmp_path / "x.json").exists()


#: `python -m benchmarks.<name> --tiny …` for each name, one after another in one interpreter (which imports torch
#: and transformers once, not five times): each one's exit status and stderr (a traceback where it raised),
#: written as JSON to the folder's status.json.
AS_MAIN = """
import contextlib, io, json, runpy, sys, traceback
folder, found = sys.argv[1], {}
for name in sys.argv[2:]:
    sys.argv = [name, "--tiny", "--output", f"{folder}/{name}.json", "--work-dir", f"{folder}/{name}-work"]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            runpy.run_module(f"benchmarks.{name}", run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as stop:
            status = stop.code
        except Exception:  # this benchmark's failure, reported as such; the others still run
            status = traceback.format_exc()
    found[name] = [status, stderr.getvalue()]
with open(f"{folder}/status.json", "w") as handle:
    json.dump(found, handle)
"""


@pytest.fixture(scope="module")
def without_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list]]:
    """Every benchmark run as a command with CURIOLIB_DATA unset: its folder, and each one's status and stderr."""
    folder = tmp_path_factory.mktemp("without_data")
    env = {k: v for k, v in os.environ.items() if k != "CURIOLIB_DATA"}
    done = subprocess.run([sys.executable, "-c", AS_MAIN, str(folder), *BENCHMARK_KEYS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, json.loads((folder / "status.json").read_text())


@pytest.mark.parametrize("module", BENCHMARK_KEYS)
def test_benchmark_without_data_says_what_to_set(module: str, without_data) -> None:
    folder, found = without_data
    status, stderr = found[module]
    assert status == 2, stderr[-3000:]
    assert "set CURIOLIB_DATA" in stderr
    assert not (folder / f"{module}.json").exists() and not (folder / f"{module}-work").exists()


@pytest.mark.parametrize("rates", [["1e-4", "0"], ["1e-4", "1.0000001e-4"], ["nan"]], ids=["zero", "alike", "nan"])
def test_ner_sweep_rates_must_be_finite_positive_and_distinct(rates: list[str], benchmarks_importable,
                                                              capsys) -> None:
    from benchmarks._common import parse_settings
    from benchmarks.ner import NerSettings, NerTrainingSettings

    with pytest.raises(SystemExit):  # the parser's error: usage and the message, exit status 2
        parse_settings("", NerSettings, NerTrainingSettings, argv=["--sweep-learning-rates", *rates])
    assert "--sweep-learning-rates must be finite, above 0 and distinct" in capsys.readouterr().err


def test_a_fresh_ner_run_clears_every_sweep_folder_of_its_work_dir(benchmarks_importable, tmp_path: Path) -> None:
    # Not only this run's rates: a resume does not match the rates, so another run's folder would be resumed.
    from benchmarks._common import parse_settings
    from benchmarks.ner import NerSettings, NerTrainingSettings, run_folders

    (tmp_path / "sweep_lr_0.005").mkdir()
    (tmp_path / "sweep_lr_notes.txt").write_text("a file, not a run's folder")
    settings, _ = parse_settings("", NerSettings, NerTrainingSettings,
                                 argv=["--work-dir", str(tmp_path), "--sweep-learning-rates", "2e-4"])
    folders = run_folders(settings)
    assert {"sweep_lr_0.005", "sweep_lr_0.0002", "main", "refit", "cased_seed2"} <= set(folders)
    assert "sweep_lr_notes.txt" not in folders


def test_flags_are_the_config_dataclasses_fields(benchmarks_importable) -> None:
    from benchmarks._common import TrainingSettings, parse_settings
    from benchmarks.active_learning import ActiveLearningSettings, LoopSettings

    from curiolib.active import ActiveLearningConfig
    from curiolib.finetune.loop import TrainingConfig

    # The mirrors use the configs' own names (the benchmark runs lists of strategies and seeds).
    loop_fields = {f.name for f in dataclasses.fields(LoopSettings)} - {"strategies", "seeds"}
    assert loop_fields <= {f.name for f in dataclasses.fields(ActiveLearningConfig)}
    training_fields = {f.name for f in dataclasses.fields(TrainingSettings)} - {"train_batch_size"}
    assert training_fields <= {f.name for f in dataclasses.fields(TrainingConfig)}

    settings, loop = parse_settings("", ActiveLearningSettings, LoopSettings,
                                    argv=["--label-schedule", "5", "9", "--train-batch-size", "3", "--replay", "4",
                                          "--training", "warm", "--seeds", "1", "2"])
    configs = loop.configs(settings.max_length, settings.work_dir)
    assert {tuple(c.round_sizes()) for c in configs.values()} == {(5, 9)} and \
        {c.train_batch_size for c in configs.values()} == {3} and {c.replay for c in configs.values()} == {4}
    assert list(configs)[:3] == [(1, "random"), (1, "entropy"), (1, "explore_exploit")]  # seed-major
    # --tiny sets defaults; a flag given explicitly still wins.
    settings, loop = parse_settings("", ActiveLearningSettings, LoopSettings,
                                    argv=["--tiny", "--diversity-share", "0.3"])
    assert settings.tiny and loop.diversity_share == 0.3
    assert loop.label_schedule == ActiveLearningSettings.TINY["label_schedule"]
    assert settings.work_dir == Path("runs/benchmark-active_learning-tiny")  # never the committed results
    assert settings.output.parent == settings.work_dir
    with pytest.raises(SystemExit) as refused:  # ActiveLearningConfig's own check, as a usage error
        parse_settings("", ActiveLearningSettings, LoopSettings, argv=["--candidates", "2"])
    assert refused.value.code == 2
