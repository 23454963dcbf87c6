"""Make plain `pytest` behave like the README's test command: offline, with the shared data when present.

`make test` runs the suite on three pytest-xdist workers (`-n 3 --dist loadgroup --no-loadscope-reorder`, in the
Makefile). The tests that check one execution of a lesson, a benchmark or a fresh environment share an
`xdist_group`, so they run in one worker, which makes the execution once (the `once` fixture); the hooks below hand
out the longest work first and say at the end where the time went. A plain `pytest` runs the same tests, in order,
in its own process.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

try:
    import resource
except ImportError:  # Windows: no CPU times in the report
    resource = None

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_SHARED = PROJECT_ROOT.parent / "shared" / "data"
if _SHARED.is_dir():
    os.environ.setdefault("CURIOLIB_DATA", str(_SHARED))
T = TypeVar("T")
#: This process's tests by group ("" for those in none): [first start, last end, tests, seconds they ran, CPU
#: seconds of the test code, CPU seconds of the processes it started and waited for].
_WORK: dict[str, list[float]] = {}
#: The controller's (or a run's without xdist): when the session started, the repository's files then, what each
#: worker reported, and the folder where the workers write their tests' groups.
_SESSION: dict[str, object] = {"workers": {}}


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder ($CURIOLIB_DATA); tests that need it skip with a message when it is absent."""
    folder = os.environ.get("CURIOLIB_DATA")
    if not folder or not Path(folder).is_dir():
        pytest.skip("CURIOLIB_DATA is not set or missing: tests that read SST-2, CoNLL-2003 or the sets "
                    "the package data is built from need it")
    return Path(folder)


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


@pytest.fixture(scope="session")
def once() -> Callable[[str, Callable[[], T]], T]:
    """``once(key, make)``: what ``make()`` returned (or raised) the first time this process asked for ``key``.

    For an execution that several tests check (a lesson's runs, a benchmark's): the tests share an xdist group, so
    they run in one worker, and the first to ask makes it. An error is kept too and raised to each of them, as a
    timeout of the one execution would be; without the group (plain ``-n 2``) each worker makes its own.
    """
    made: dict[str, tuple[bool, object]] = {}

    def get(key: str, make: Callable[[], T]) -> T:
        if key not in made:
            try:
                made[key] = (True, make())
            except Exception as error:  # kept: the next test of the group must not start the execution again
                made[key] = (False, error)
        ok, value = made[key]
        if not ok:
            raise value
        return value

    return get


def _repository_files() -> dict[str, float | None]:
    """Every file of the checkout (but git's, the virtual environments and caches) with its modification time.

    For Python files only that they exist, since no test writes one and a developer may edit them meanwhile.
    .venv-min and *.egg-info: the minimum-versions environment, whose build (tests/test_install.py, perhaps in
    the other worker meanwhile) installs curiolib in editable mode and so rewrites the egg-info.
    """
    skip = {".git", ".venv", ".venv-min", "__pycache__", ".pytest_cache", ".ruff_cache"}
    files = {}
    for folder, subfolders, names in os.walk(PROJECT_ROOT):
        subfolders[:] = [name for name in subfolders if name not in skip and not name.endswith(".egg-info")]
        for name in names:
            path = Path(folder) / name
            files[str(path.relative_to(PROJECT_ROOT))] = None if name.endswith(".py") else path.stat().st_mtime
    return files


@pytest.fixture(scope="session")
def repository_files() -> Callable[[], dict[str, float | None]]:
    """`_repository_files`, to compare the checkout before and after an execution."""
    return _repository_files


# The temporary folder's peak in a full run (model copies, checkpoints, lesson and benchmark runs side by side):
# the disk's use rose by 13.8 GB during a clean-clone run of 1ac0a32 (`df` every 10 s); 15 leaves a margin.
# The fast tests need little.
SCRATCH_GB = 15


def _scratch_refusal(session: pytest.Session) -> tuple[pytest.ExitCode, str] | None:
    """Why this run's slow tests cannot start in the temporary folder, or None where they can (or there are none)."""
    config = session.config
    if config.option.collectonly or not any(item.get_closest_marker("slow") for item in session.items):
        return None
    said = os.environ.get("CURIOLIB_TEST_SCRATCH_GB", str(SCRATCH_GB))
    try:
        need = float(said)
    except ValueError:
        return (pytest.ExitCode.USAGE_ERROR,
                f"CURIOLIB_TEST_SCRATCH_GB must be a number of GB (0 turns the check off), not {said!r}")
    root = Path(config.option.basetemp or tempfile.gettempdir()).resolve()
    existing = next(folder for folder in (root, *root.parents) if folder.exists())
    free = shutil.disk_usage(existing).free / 1e9
    if free >= need:
        return None
    # Otherwise a checkpoint fails to save minutes in, with "No space left on device" in a lesson's cell.
    return (pytest.ExitCode.USAGE_ERROR,
            f"the slow tests need about {need:g} GB under {root} and {free:.1f} GB is free there: free some "
            "space (a killed run's pytest-of-* folders stay three days), point TMPDIR at a larger disk, "
            "run `make test-fast`, or set CURIOLIB_TEST_SCRATCH_GB to the GB you know suffice")


@pytest.hookimpl(tryfirst=True)  # in a worker, before xdist sends the controller the tests it collected
def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse, before any test runs, a run with slow tests that the temporary folder has no room for.

    And a worker of `make test` writes down each test's xdist group, for the controller's scheduler.
    """
    config = session.config
    refusal = _scratch_refusal(session)
    if refusal is not None and not hasattr(config, "workerinput"):
        pytest.exit(refusal[1], returncode=refusal[0])
    if refusal is not None:
        # Under xdist each worker checks (the controller collects nothing). pytest.exit in a worker is an
        # INTERNALERROR of the controller, so the worker offers no tests and says why (pytest_testnodedown).
        config.workeroutput["scratch_refusal"] = (int(refusal[0]), refusal[1])  # plain types cross to it
        config.hook.pytest_deselected(items=list(session.items))
        session.items.clear()
    folder = getattr(config, "workerinput", {}).get("curiolib_groups")
    if folder:  # read only after this worker has sent its collection, so a plain write is whole by then
        groups = {item.nodeid: group for item in session.items if (group := _group(item))}
        (Path(folder) / f"{config.workerinput['workerid']}.json").write_text(json.dumps(groups))
    # What collection imported (torch, transformers, the test modules) lives as long as the process. The lessons'
    # cells (and `train`, until 2026-12-08) call `release_memory`, whose gc.collect would walk all of it each time:
    # frozen, it is not walked, and the objects the tests make (models, optimizers) are still collected. In a test
    # process that collect was about 40 % of a training test's CPU time (test_faults and test_training: 72 -> 41 s).
    gc.collect()
    gc.freeze()


def _group(item: pytest.Item) -> str | None:
    """The item's xdist group: the tests that check one execution, and so run in one worker."""
    marker = item.get_closest_marker("xdist_group")
    return None if marker is None else str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))


#: Wall seconds of each group's work in the last measured full run (a clean clone of 6e3a67e on three workers,
#: 772 s; refresh them from the table pytest prints at the end). The order only matters for the suite's length: a
#: group missing here starts after these, before the tests in no group.
GROUP_SECONDS = {
    "install-min-versions": 338, "lesson-05_curiosity_loop": 173, "lesson-06_efficient_fine_tuning": 157,
    "lesson-03_bert_sentiment": 155, "benchmark-ner": 90, "lesson-04_bert_ner": 88, "benchmark-efficient": 82,
    "colab-06_efficient_fine_tuning": 82, "colab-05_curiosity_loop": 76, "lesson-07_exploration_vs_reflection": 67,
    "install-colab-first-cell": 65, "lesson-02_fine_tuning_math": 63, "benchmark-sentiment": 62,
    "colab-03_bert_sentiment": 62, "lesson-00_getting_started": 49, "lesson-01_knowledge_growth": 45,
    "colab-04_bert_ner": 39, "grade": 45, "benchmark-active_learning": 32, "benchmark-growth_fit": 25,
    # Lesson 08 and its benchmark (issue #45), estimated from their runs beside other work; not yet measured here.
    "lesson-08_forgetting_and_replay": 60, "benchmark-forgetting": 30,
}


@pytest.hookimpl(tryfirst=True)  # first, so that the other plugins (--sw, -k, -m) see the order the session runs in
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest work first: the groups, longest first; then the modules with other slow tests; then the rest.

    xdist hands the work out in this order (with --no-loadscope-reorder; its default orders by group size), a group
    as one unit, to whichever worker has run out: a chain of minutes that started near the end would end the suite
    late, and the many short tests last keep both workers busy to the end. Each module's ungrouped tests stay
    together, so that its module-scoped fixtures are set up once in each worker.
    """
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(_group(item) or "", index)
    slow = {item.path for item in items if _group(item) is None and item.get_closest_marker("slow")}

    def key(item: pytest.Item) -> tuple[int, float, int]:
        group = _group(item)
        if group is None:
            return (1 if item.path in slow else 2, 0, 0)
        return (0, -GROUP_SECONDS.get(group, 0), first_seen[group])

    items.sort(key=key)  # stable: a group's tests, and each module's, keep their order


# pytest-xdist 3.8 tells its controller a test's group by appending "@group" to the test's node id in the worker,
# which pytest 9.2's structured node ids no longer take (pytest-xdist#1386, open): every test would be a unit of
# its own, and a lesson's tests would run in both workers, each executing the lesson. So the groups travel apart
# from the ids, as xdist's maintainers propose: each worker writes them to a folder the controller names, and the
# controller's loadgroup scheduler reads them there (xdist's hook for a scheduler of one's own).

def pytest_configure(config: pytest.Config) -> None:
    if (not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup"
            and not config.option.collectonly):
        _SESSION["groups"] = tempfile.mkdtemp(prefix="curiolib-groups-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if "groups" in _SESSION:
        shutil.rmtree(_SESSION.pop("groups"), ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Name the folder for the worker's groups (pytest_collection_finish writes them)."""
    if "groups" in _SESSION:
        node.workerinput["curiolib_groups"] = _SESSION["groups"]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's loadgroup scheduler, with each test's group read from what the workers wrote."""
    if "groups" not in _SESSION:
        return None
    from xdist.scheduler import LoadGroupScheduling

    folder = Path(_SESSION["groups"])

    class Scheduling(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first asked once every worker has sent its collection, so all are written
                self.groups = {nodeid: group for path in sorted(folder.glob("*.json"))
                               for nodeid, group in json.loads(path.read_text()).items()}
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

    return Scheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """torch on one thread in each process that runs tests (each worker; a plain run's), so that all compute alike."""
    # Two workers on one thread each fill the two cores; `make test` and `make test-fast` compute alike.
    import torch

    torch.set_num_threads(1)


# ---- where the time went ------------------------------------------------------------------------------------

def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its children that ended and were waited for (theirs included)."""
    if resource is None:
        return 0.0, 0.0
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    # Tests run one at a time in a process, so the CPU time that its children add meanwhile is the test's.
    start, (own, children) = time.time(), _cpu()
    yield
    end, (own_after, children_after) = time.time(), _cpu()
    row = _WORK.setdefault(_group(item) or "", [start, end, 0, 0.0, 0.0, 0.0])
    row[1:] = [end, row[2] + 1, row[3] + end - start, row[4] + own_after - own, row[5] + children_after - children]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, or a run without xdist
        _SESSION["start"] = time.time()
        _SESSION["repository"] = _repository_files()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error: object) -> None:
    """The controller keeps what a worker reports as it ends, and stops a run that the worker refused."""
    output = getattr(node, "workeroutput", {})
    _SESSION["workers"][node.gateway.id] = output.get("curiolib_work")
    if output.get("scratch_refusal"):
        code, message = output["scratch_refusal"]
        pytest.exit(message, returncode=code)


def _reports() -> dict[str, dict]:
    """Each process's tests by group and its CPU seconds: the workers', or this process's in a run without xdist."""
    workers = {name: found for name, found in _SESSION["workers"].items() if found}
    return workers or {"": {"work": _WORK, "cpu": _cpu()}}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker reports its work; the controller checks that the session wrote nothing into the repository."""
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput["curiolib_work"] = {"work": _WORK, "cpu": _cpu()}
        return
    # A session that executed lessons, benchmarks or environments must leave the checkout as it found it (each
    # lesson's own test compares it around that lesson's executions; this covers all the rest too).
    ran_groups = any(group for report in _reports().values() for group in report["work"])
    if ran_groups and "repository" in _SESSION:
        before, after = _SESSION["repository"], _repository_files()
        _SESSION["changed"] = [f"{'added' if path not in before else 'removed' if path not in after else 'changed'}: "
                               f"{path}" for path in sorted(before.keys() | after.keys())
                               if before.get(path, "-") != after.get(path, "-")]
        if _SESSION["changed"] and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    """Where the time went: each group's work (the last to end sets the suite's length) and the CPU time spent."""
    if hasattr(terminalreporter.config, "workerinput"):
        return
    write = terminalreporter.write_line
    if _SESSION.get("changed"):
        terminalreporter.section("the session changed the repository (the run fails)", red=True)
        for line in _SESSION["changed"]:
            write(line)
    reports, start = _reports(), _SESSION.get("start", 0.0)
    rows = [(name, group, *row) for name, report in reports.items() for group, row in report["work"].items()]
    if any(group for _, group, *_ in rows):
        terminalreporter.section("the work by group (seconds since the session started)")
        write(f"{'start':>7} {'end':>7} {'ran':>6} {'CPU':>6}  worker  group (CPU: the tests' and their processes')")
        for name, group, first, last, tests, ran, own, children in sorted(rows, key=lambda row: row[2]):
            what = group or f"the {tests:.0f} test{'s' if tests != 1 else ''} in no group"
            write(f"{first - start:7.0f} {last - start:7.0f} {ran:6.0f} {own + children:6.0f}  {name or '-':6}  {what}")
    # The suite cannot end before its CPU time over the cores: the floor any reordering works against.
    if resource is not None:
        own = sum(report["cpu"][0] for report in reports.values())
        children = sum(report["cpu"][1] for report in reports.values())
        if list(reports) == [""]:
            write(f"CPU seconds: this process {own:.0f}, the processes it started {children:.0f}")
        else:
            write(f"CPU seconds: the {len(reports)} worker{'s' if len(reports) > 1 else ''} {own:.0f}, the processes "
                  f"they started {children:.0f}, the controller {_cpu()[0]:.0f}")
