"""What every benchmark shares: its settings as flags, its data, its training runs, its saved stages, its results.

Settings are dataclasses parsed by `transformers.HfArgumentParser`: `BenchmarkSettings` (data, model, sizes,
where to write, --tiny, --resume), subclassed per benchmark, next to the benchmark's training knobs
(`TrainingSettings`, mirroring `curiolib.finetune.loop.TrainingConfig`). A benchmark runs in stages; each
finished stage's figures go to ``<work_dir>/stages.json`` so that ``--resume`` skips it.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from curiolib._files import MARKER, claim_output_dir, remove_own, write_text_atomically
from curiolib.course.notebook import jsonable

if TYPE_CHECKING:  # for the hints only: the benchmarks import torch and datasets once their data is found
    import torch
    from datasets import Dataset, DatasetDict

    from curiolib.finetune.loop import TrainingConfig, TrainResult

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results"
DATA_ENV = "CURIOLIB_DATA"
EXIT_SETUP = 2  # no data, a work dir that is not ours, settings that changed under --resume: nothing measured
#: What marked a work dir the benchmark made before it claimed them as curiolib does (`MARKER`): a folder with
#: it is still the benchmark's own, and its text names which benchmark's.
LEGACY_MARKER = ".curiolib-benchmark"
STAGES_FILE = "stages.json"
# Settings that do not change a number: a resumed run may move its output or data, or drop --resume.
NOT_MEASURED = ("data_dir", "output", "work_dir", "resume")


class SetupError(Exception):
    """A reason to measure nothing (missing data, a foreign work dir): printed, and the exit status is 2."""


def setting(default: Any = MISSING, help: str = "", *, factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with its --help text (``factory`` for list defaults)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class BenchmarkSettings:
    """What every benchmark takes; a subclass per benchmark adds its own and sets ``NAME`` and ``TINY``."""

    NAME: ClassVar[str] = ""
    TINY: ClassVar[dict[str, Any]] = {}  # --tiny's defaults, over this and the training dataclass alike

    data_dir: str | None = setting(None, f"folder holding the data set's folder (default: ${DATA_ENV})")
    model: str = setting("minilm", "a curiolib model name, a saved model folder or a hub id")
    max_length: int = setting(64, "tokens kept per sentence")
    train_size: int | None = setting(None, "a seeded sample of N training examples (default: all)")
    eval_size: int | None = setting(None, "the first N validation (and test) examples (default: all)")
    seed: int = setting(0, "seed of the training sample and of the training runs")
    output: Path | None = setting(None, "the results JSON (default: benchmarks/results/<benchmark>.json; "
                                        "with --tiny: in the work dir)")
    work_dir: Path | None = setting(None, "checkpoints and finished stages (default: runs/benchmark-<benchmark>, "
                                          "with --tiny: runs/benchmark-<benchmark>-tiny)")
    threads: int | None = setting(None, "torch threads (default: torch's own choice, one per core)")
    tiny: bool = setting(False, "a smoke run of every stage in seconds; flags given explicitly still win")
    resume: bool = setting(False, f"skip the stages saved in --work-dir ({STAGES_FILE}) and resume training "
                                  "from its last checkpoint (same settings)")

    def __post_init__(self) -> None:
        # Paths may come as strings (settings read back from JSON by the efficient benchmark's processes).
        # A smoke run writes in its own work dir, never over the committed results or a real run's folder.
        suffix = "-tiny" if self.tiny else ""
        self.work_dir = Path(self.work_dir) if self.work_dir else Path(f"runs/benchmark-{self.NAME}{suffix}")
        default_output = self.work_dir / f"{self.NAME}.json" if self.tiny else RESULTS / f"{self.NAME}.json"
        self.output = Path(self.output) if self.output else default_output
        for name in ("train_size", "eval_size", "threads"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")


def use_threads(settings: BenchmarkSettings) -> None:
    """Set torch's thread count from --threads (a smoke run uses one).

    On a busy machine, threads that wait on each other at every operation make small models crawl
    (a sentence took 500 ms with 2 threads on 2 shared cores, 7 ms alone); one thread never waits.
    """
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)


def latency_setting(default: int = 200) -> Any:
    """The --latency-sentences field, for the benchmarks that time predictions."""
    return setting(default, "sentences predicted one at a time for the p50/p95 latency")


@dataclass
class TrainingSettings:
    """The `TrainingConfig` knobs a benchmark exposes, under the same names but ``train_batch_size``.

    The benchmark sets the rest itself (output folder, steps, time budget, which epoch to keep), so they
    are not flags: a flag the benchmark overrode would be a lie. `TrainingConfig` is not parsed whole for
    the same reason, and because HfArgumentParser cannot parse a ``int | str`` field such as its
    ``eval_every``.
    """

    epochs: int = setting(3, "passes over the training set in the main run")
    train_batch_size: int = setting(32, "examples per optimizer step")
    learning_rate: float = setting(1e-4, "AdamW's peak learning rate")
    warmup_ratio: float = setting(0.06, "share of the steps spent warming up")
    checkpoint_every: int | None = setting(None, "optimizer steps between checkpoints for --resume "
                                                 "(default: at each evaluation)")

    def __post_init__(self) -> None:
        self.config()  # TrainingConfig checks every value now, before any data is read

    def config(self, **fixed: Any) -> TrainingConfig:
        """The `TrainingConfig` of one run: these knobs plus what the benchmark fixes."""
        from curiolib.finetune.loop import TrainingConfig

        return TrainingConfig(epochs=self.epochs, batch_size=self.train_batch_size, learning_rate=self.learning_rate,
                              warmup_ratio=self.warmup_ratio, checkpoint_every=self.checkpoint_every, **fixed)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each flag's default unless its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parse_settings(doc: str, settings_type: type, *others: type, argv: list[str] | None = None) -> tuple:
    """Parse the command line into ``settings_type`` and ``others``; --tiny swaps in the ``TINY`` defaults."""
    from transformers import HfArgumentParser

    # No abbreviations: --output must never be read as --output_dir of some future field.
    parser = HfArgumentParser([settings_type, *others], prog=f"python -m benchmarks.{settings_type.NAME}",
                              description=doc, formatter_class=_HelpFormatter, allow_abbrev=False)
    unknown = set(settings_type.TINY) - {action.dest for action in parser._actions}
    if unknown:
        raise TypeError(f"{settings_type.__name__}.TINY names no flag: {sorted(unknown)}")
    try:
        parsed = parser.parse_args_into_dataclasses(argv, look_for_args_file=False)
        if parsed[0].tiny:
            # As defaults, not overrides: `--tiny --rounds 3` runs tiny with three rounds.
            parser.set_defaults(**settings_type.TINY)
            parsed = parser.parse_args_into_dataclasses(argv, look_for_args_file=False)
    except ValueError as error:  # a config's own check (TrainingConfig, ActiveLearningConfig, ours)
        parser.error(str(error))
    return parsed


def settings_dict(*parsed: Any) -> dict:
    """Every parsed setting in one JSON-ready dict (paths as strings)."""
    merged: dict = {}
    for part in parsed:
        merged |= asdict(part)
    return json.loads(json.dumps(merged, default=str))


def portable_path(path: Path | str | None) -> str | None:
    """``path`` relative to the repository, or None when it lies outside: results carry no machine paths."""
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return None


def require_data(settings: BenchmarkSettings, folder: str, files: str) -> Path:
    """The data folder that holds ``folder``/; SetupError saying what to set when it does not."""
    from curiolib.data import resolve_data_dir

    root = resolve_data_dir(settings.data_dir)
    if root is None or not (root / folder).is_dir():
        raise SetupError(f"{folder} not found: set {DATA_ENV} (or --data-dir) to a folder holding {files}. "
                         "Nothing was measured.")
    return root


def _owner(work_dir: Path) -> str | None:
    """The benchmark whose work dir this is, as its stages file or its older marker says; None if neither does."""
    try:
        owner = json.loads((work_dir / STAGES_FILE).read_text()).get("benchmark")
    except (OSError, ValueError, AttributeError):  # none, or unreadable: --resume says so, a fresh run clears it
        owner = None
    legacy = work_dir / LEGACY_MARKER
    return owner or (legacy.read_text().strip() if legacy.is_file() else None)


def prepare_work_dir(settings: BenchmarkSettings, own: list[str]) -> None:
    """Claim --work-dir as curiolib claims a folder; without --resume clear only ``own`` (what this benchmark writes).

    A folder that holds something and lacks curiolib's marker was not made by it: it is refused rather than
    cleared, --resume or not (adopting it would let a later run clear it). One an earlier version of this
    benchmark marked (`LEGACY_MARKER`) is its own. One whose stages another benchmark wrote is refused: a
    fresh run would clear them.
    """
    work_dir = settings.work_dir
    owner = _owner(work_dir)
    if owner is not None and owner != settings.NAME:
        raise SetupError(f"{work_dir} is the work dir of benchmarks.{owner}: pass another --work-dir")
    legacy = work_dir / LEGACY_MARKER
    if legacy.is_file() and legacy.read_text().strip() == settings.NAME and not (work_dir / MARKER).exists():
        (work_dir / MARKER).touch()  # this benchmark's folder from before the shared marker: claimed below
    try:
        claim_output_dir(work_dir, parameter="--work-dir")
    except ValueError as error:
        raise SetupError(f"{error}. Nothing was measured.") from None
    if not settings.resume:
        remove_own(work_dir, own + [STAGES_FILE])


def _json_text(value: Any, **options: Any) -> str:
    # curiolib's conversion (numpy numbers and arrays, paths); anything else as its text, as the results always had.
    return json.dumps(jsonable(value), default=str, **options)


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically: a temporary file beside it, then a rename, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, _json_text(value, indent=2) + "\n")


class Stages:
    """A benchmark's finished stages, kept in ``<work_dir>/stages.json`` so that --resume skips them."""

    def __init__(self, settings: BenchmarkSettings, all_settings: dict) -> None:
        self.path, self.benchmark = settings.work_dir / STAGES_FILE, settings.NAME
        self.settings = {k: v for k, v in all_settings.items() if k not in NOT_MEASURED}
        self.done: dict[str, Any] = {}
        if settings.resume and self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved["settings"] != self.settings:
                changed = sorted(k for k in self.settings.keys() | saved["settings"].keys()
                                 if self.settings.get(k) != saved["settings"].get(k))
                raise SetupError(f"--resume: {self.path} was measured with other settings ({', '.join(changed)}); "
                                 "rerun with those, or without --resume")
            self.done = saved["stages"]
        else:  # written at once, so that a later --resume checks its settings even before a stage is done
            self._save()

    def run(self, name: str, measure: Callable[[], dict]) -> dict:
        """``measure()``'s figures, saved as stage ``name``; with --resume, the saved figures instead."""
        if name in self.done:
            print(f"{name}: reused from {self.path} (--resume)", flush=True)
            return self.done[name]
        # Through JSON either way, so a resumed run's results are the same values as a fresh run's.
        self.done[name] = json.loads(_json_text(measure()))
        self._save()
        return self.done[name]

    def _save(self) -> None:
        # Whose stages these are: prepare_work_dir refuses to let another benchmark clear them.
        write_json(self.path, {"benchmark": self.benchmark, "settings": self.settings, "stages": self.done})


def results_header(settings: BenchmarkSettings, all_settings: dict) -> dict:
    """What every results file starts with: the settings (no machine paths), package versions and machine."""
    data_dir = (f"${DATA_ENV}" if settings.data_dir is None else portable_path(settings.data_dir))
    portable = all_settings | {"data_dir": data_dir, "output": portable_path(settings.output),
                               "work_dir": portable_path(settings.work_dir)}
    return {"settings": portable, "versions": versions(), "machine": machine()}


def machine() -> dict:
    """Where the numbers were measured."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()} | cpu_model()


def cpu_model() -> dict:
    """The CPU's name and the vector extensions that decide int8 and float speed (Linux; empty elsewhere).

    A virtual machine may report only a family ("AMD EPYC") and hide some extensions, so the list is what the
    kernels could use: without VNNI, int8 products take a slower path whose 16-bit sums can saturate.
    """
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return {"cpu_model": fields.get("model name", "unknown"), "cpu_extensions": [f for f in wanted if f in flags]}


def versions() -> dict:
    """Versions of the packages that shape the numbers (onnxruntime and peft as well as the lessons')."""
    from importlib.metadata import PackageNotFoundError, version

    from curiolib.course.notebook import versions as package_versions

    found = package_versions()
    for name in ("onnxruntime", "peft"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_results(results: dict, output: Path, readme_row: str) -> None:
    """Write the results JSON (atomically) and print the README row."""
    write_json(output, results)
    print("README row:", readme_row)
    print(f"wrote {output}")


def subset(data: DatasetDict, settings: BenchmarkSettings, train: str = "train",
           evaluated: tuple[str, ...] = ("validation",)) -> DatasetDict:
    """A seeded sample of --train-size training examples and the first --eval-size of each evaluated split.

    Done before any tokenizing, so a smoke run tokenizes tens of sentences, not the whole set.
    """
    if settings.train_size:
        data[train] = data[train].shuffle(seed=settings.seed).select(range(min(settings.train_size,
                                                                               len(data[train]))))
    if settings.eval_size:
        for split in evaluated:
            data[split] = data[split].select(range(min(settings.eval_size, len(data[split]))))
    return data


def load_sst2(settings: BenchmarkSettings) -> DatasetDict:
    """SST-2 train and validation, subset by --train-size and --eval-size."""
    from curiolib.data import load_sentiment

    data_dir = require_data(settings, "sst2", "sst2/train.tsv and sst2/validation.tsv")
    return subset(load_sentiment("sst2", data_dir=data_dir), settings)


def fine_tune(pretrained: torch.nn.Module, train_set: Dataset, eval_set: Dataset, *, settings: BenchmarkSettings,
              training: TrainingSettings, name: str, collator: Callable, compute_metrics: Callable, minutes: float,
              max_steps: int | None = None, **fixed: Any) -> tuple[torch.nn.Module, TrainResult]:
    """One training run of a copy of ``pretrained`` in ``<work_dir>/<name>``, resumed there with --resume.

    Returns the trained model and curiolib's `TrainResult`; ``fixed`` goes to `TrainingConfig`.
    """
    from curiolib.finetune.loop import train

    folder = settings.work_dir / name
    if not settings.resume:
        shutil.rmtree(folder, ignore_errors=True)  # a run folder of ours: prepare_work_dir checked the marker
    elif (folder / "last").is_dir():
        print(f"{name}: resuming training from {folder / 'last'}", flush=True)
    # A copy, not a reload: the same weights (the head was seeded once) without reading the model again.
    model = copy.deepcopy(pretrained)
    config = training.config(output_dir=str(folder), seed=settings.seed, max_steps=max_steps,
                             time_budget_s=minutes * 60, **fixed)
    result = train(model, train_set, eval_set, collator=collator, compute_metrics=compute_metrics, config=config,
                   resume=settings.resume)
    return model, result


def budget_steps(main_steps: int, main_seconds: float, budget_minutes: float) -> int:
    """Optimizer steps the short-budget run's schedule is sized to: what fits at the main run's average speed.

    The main run's average, not its first steps: the length-grouped sampler puts the longest batch first,
    so early steps are slow and would undersize the schedule; 5% under it, so the schedule, not the
    clock, ends the run.
    """
    return max(1, int(budget_minutes * 60 * main_steps / main_seconds * 0.95))


def save_model(model: torch.nn.Module, tokenizer: Any, folder: Path) -> Path:
    """A trained model and its tokenizer in ``folder``, so later stages of a resumed run can load it."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_main(main: Callable[[], int]) -> int:
    """Run a benchmark's ``main``; a SetupError is printed and exits 2 (nothing measured, no results written)."""
    try:
        return main()
    except SetupError as error:
        print(error, file=sys.stderr)
        return EXIT_SETUP

