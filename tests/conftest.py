"""Make plain `pytest` behave like the README's test command: offline, with the shared data when present."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED.is_dir():
    os.environ.setdefault("CURIOLIB_DATA", str(_SHARED))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder ($CURIOLIB_DATA); tests that need it skip with a message when it is absent."""
    from _background import data_folder

    folder = data_folder()
    if folder is None:
        pytest.skip("CURIOLIB_DATA is not set or missing: tests that read SST-2, CoNLL-2003 or the sets "
                    "the package data is built from need it")
    return folder


@pytest.fixture(scope="session")
def tokenizer():
    """The embedded model's fast tokenizer."""
    from curiolib.finetune.models import load_tokenizer

    return load_tokenizer("minilm")


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory, tokenizer: PreTrainedTokenizerBase) -> str:
    """A saved folder: a randomly initialised 2-layer, 64-wide BERT with the embedded model's tokenizer.

    For the tests of the training loop's mechanics (resume, checkpoints, averaging, seeding), which hold for any
    model: about a tenth of the embedded model's weights to step and to checkpoint. The tests of what a model
    learns keep the embedded one. `load_model_for_task(small_model, ...)` reads it as any saved base model (a
    new head, seeded).
    """
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("small_model")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128)
    with torch.random.fork_rng():  # the same weights in every session, and the session's own RNG left as it was
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


# The temporary folder's peak in a full run (model copies, checkpoints, lesson and benchmark runs side by side):
# the disk's use rose by 13.8 GB during a clean-clone run of 1ac0a32 (`df` every 10 s); 15 leaves a margin.
# The fast tests need little.
SCRATCH_GB = 15


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse, before any test runs, a run with slow tests that the temporary folder has no room for."""
    config = session.config
    if config.option.collectonly or not any(item.get_closest_marker("slow") for item in session.items):
        return
    said = os.environ.get("CURIOLIB_TEST_SCRATCH_GB", str(SCRATCH_GB))
    try:
        need = float(said)
    except ValueError:
        pytest.exit(f"CURIOLIB_TEST_SCRATCH_GB must be a number of GB (0 turns the check off), not {said!r}",
                    returncode=pytest.ExitCode.USAGE_ERROR)
    root = Path(config.option.basetemp or tempfile.gettempdir()).resolve()
    existing = next(folder for folder in (root, *root.parents) if folder.exists())
    free = shutil.disk_usage(existing).free / 1e9
    if free < need:
        # Otherwise a checkpoint fails to save minutes in, with "No space left on device" in a lesson's cell.
        pytest.exit(f"the slow tests need about {need:g} GB under {root} and {free:.1f} GB is free there: free some "
                    "space (a killed run's pytest-of-* folders stay three days), point TMPDIR at a larger disk, "
                    "run `make test-fast`, or set CURIOLIB_TEST_SCRATCH_GB to the GB you know suffice",
                    returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that wait for pool jobs last, in their order: the others run beside the jobs, never behind them."""
    # First, so that --sw counts from the order the session runs in. A module's waiting tests stay together
    # (the sort is stable), but apart from its other tests: a module-scoped fixture both groups used would be
    # set up twice.
    items.sort(key=lambda item: "background" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def _start_background_checks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Submit the subprocess checks of every module with a selected test that waits on them, as the session starts."""
    import torch

    from _background import POOL

    # One thread for the tests in this process, whether or not pool jobs run beside them, so that `make test`
    # and `make test-fast` compute alike; the pool's two jobs take the cores' other share.
    torch.set_num_threads(1)
    # Queued jobs of a session stopped early (-x, Ctrl-C) are cancelled; the running ones finish first.
    request.addfinalizer(lambda: POOL.shutdown(wait=False, cancel_futures=True))
    # In the order the tests run, so that the jobs a test waits for early are queued first.
    starters = {item.module.__name__: item.module.start_background for item in request.session.items
                if "background" in getattr(item, "fixturenames", ())
                and hasattr(getattr(item, "module", None), "start_background")}
    for start in starters.values():
        start(tmp_path_factory, request.session)


def pytest_terminal_summary(terminalreporter) -> None:
    """When each pool job started and ended (the last to end sets the suite's length), and the CPU time spent."""
    from _background import TIMES

    if TIMES:
        terminalreporter.section("suite pool jobs (seconds since the session started)")
        terminalreporter.write_line(f"{'start':>7} {'end':>7} {'wall':>6} {'CPU':>6}  job (CPU: its processes')")
        for name, start, end, cpu in sorted(TIMES, key=lambda row: row[1]):
            terminalreporter.write_line(f"{start:7.0f} {end:7.0f} {end - start:6.0f} {cpu:6.0f}  {name}")
        terminalreporter.write_line(f"{'':23}{sum(row[3] for row in TIMES):6.0f}  all jobs")
    # The suite cannot end before its CPU time over the cores: the floor any reordering works against.
    try:
        import resource
    except ImportError:  # Windows
        return
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    terminalreporter.write_line(f"CPU seconds: this process {own.ru_utime + own.ru_stime:.0f}, the processes it "
                                f"started {children.ru_utime + children.ru_stime:.0f}")
