"""What every notebook does first (`setup_notebook`) and how it reports its key numbers (`record`)."""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import random
import sys
import warnings
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from .._text import say

#: The harness sets this to the JSON file that sits next to the executed notebook copy.
RECORD_ENV = "CURIOLIB_RECORD_FILE"

_recorded: dict[str, Any] = {}


@dataclass(frozen=True)
class NotebookEnv:
    """What `setup_notebook` found: the device to train on, the seed, and whether we run on Colab."""

    device: str
    seed: int
    on_colab: bool

    def __str__(self) -> str:
        return f"device={self.device} seed={self.seed} colab={self.on_colab}"


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) so a CPU run repeats its numbers.

    What `transformers.set_seed` does (and `train` calls), without importing transformers, which would make
    the first cell of the lessons that never use it wait seconds. String hashing is not seeded here: Python
    fixes it when the interpreter starts (PYTHONHASHSEED), so setting it now would change nothing.
    """
    from .._validation import check_int

    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)  # seeds CUDA and MPS too


def pick_device() -> str:
    """Return "cuda", "mps" or "cpu", the best device this machine has."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _enable_colab_widgets() -> None:
    # ipywidgets 8 on Colab needs its custom widget manager, or sliders render as plain text.
    try:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
    except ImportError:
        pass


def quiet() -> None:
    """Silence the warnings and log lines that would bury a lesson (download bars, load reports)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*TypedStorage.*")
    for name in ("transformers", "datasets", "accelerate", "huggingface_hub", "torch.distributed"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Not imported for this: lessons 00 and 01 never load transformers or datasets (02 only transformers'
    # schedule), and importing both would make every first cell wait seconds. One imported later reads these
    # at import; one already imported is told.
    # A value set before the first cell wins (HF_DATASETS_DISABLE_PROGRESS_BARS=0 shows datasets' bars again).
    for name, value in (("TRANSFORMERS_VERBOSITY", "error"), ("DATASETS_VERBOSITY", "error"),
                        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")):
        os.environ.setdefault(name, value)
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    datasets = sys.modules.get("datasets")
    if datasets is not None:
        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()
    hub = sys.modules.get("huggingface_hub")  # it read HF_HUB_DISABLE_PROGRESS_BARS when imported, unset then
    if hub is not None and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"].upper() in {"1", "ON", "YES", "TRUE"}:
        hub.utils.disable_progress_bars()  # transformers, imported later, takes its bars' setting from here


def versions() -> dict[str, str]:
    """Versions of the packages a lesson depends on, for the first cell's printout."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("curiolib", "torch", "transformers", "datasets", "accelerate", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def below_bounds() -> dict[str, tuple[str, str]]:
    """Installed runtime dependencies older than curiolib's bounds: name -> (installed version, bound).

    The bounds come from the installed package's metadata, the one copy of pyproject.toml's; the extras'
    requirements (JupyterLab, the test tools) are left out: no lesson needs them. A package that is not
    installed is left to its import error, which says more. Outside an installed curiolib: nothing to check.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    try:
        declared = metadata.requires("curiolib") or []
    except metadata.PackageNotFoundError:
        return {}
    below = {}
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            installed = Version(metadata.version(requirement.name))
        except (metadata.PackageNotFoundError, InvalidVersion):
            continue
        # prereleases=True: a development build past the bound (Colab's 5.1.0.dev0 for >=5.0) meets it; without
        # it packaging before 24 counts every pre-release as too old. One before the bound (5.0.0rc1) still fails.
        if not requirement.specifier.contains(installed, prereleases=True):
            below[requirement.name] = (str(installed), str(requirement.specifier))
    return below


def version_warning() -> str | None:
    """One line naming each installed package older than curiolib needs and the command that updates it."""
    below = below_bounds()
    if not below:
        return None
    found = "; ".join(f"{name} {installed} (needs {bound})" for name, (installed, bound) in below.items())
    upgrade = " ".join(f'"{name}{bound}"' for name, (_, bound) in below.items())
    return f"warning: older than curiolib needs: {found}; update with: pip install -U {upgrade}"


def setup_notebook(seed: int = 0, *, verbose: bool = True) -> NotebookEnv:
    """The first cell of every notebook: quiet logs, figures for a projector, a seed, the device, what was found.

    On Colab the cell installs curiolib before importing it (see `catalog.setup_cell_source`) and this
    call turns on Colab's widget manager.
    """
    colab = on_colab()
    if colab:
        _enable_colab_widgets()
    quiet()
    if importlib.util.find_spec("matplotlib") is not None:
        from .._figures import projector_style, show_alt_text

        projector_style()
        show_alt_text()
    seed_everything(seed)
    device = pick_device()
    env = NotebookEnv(device=device, seed=int(seed), on_colab=colab)
    if verbose:
        say(f"curiolib ready: {env}")
        say("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
        warning = version_warning()
        if warning:
            print(warning)  # one line, whatever its length: the command in it is copied whole
    return env


def jsonable(value: Any) -> Any:
    """``value`` as JSON takes it: numpy and torch numbers and arrays as Python ones, paths as text, keys as text.

    Dicts, lists and tuples are converted all the way down; anything else is returned as it is, for
    `json.dumps` to refuse (`record`) or to write as its text (the benchmarks' results).
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def record(name: str, value: Any) -> None:
    """Keep one of the notebook's key numbers; under the harness it goes to JSON next to the executed copy."""
    from .._files import write_text_atomically
    from .._validation import check_text

    check_text("name", name)
    value = jsonable(value)
    json.dumps(value)  # fail here, in the cell that recorded it, if it cannot be saved
    _recorded[name] = value
    path = os.environ.get(RECORD_ENV)
    if path:  # through a temporary name: a full disk or Ctrl-C mid-write leaves the last whole record
        write_text_atomically(path, json.dumps(_recorded, indent=2, sort_keys=True) + "\n")


def recorded() -> dict[str, Any]:
    """Everything `record` has kept in this kernel, by name."""
    return dict(_recorded)

