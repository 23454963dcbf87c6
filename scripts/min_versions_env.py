"""Build (or reuse) the minimum-versions environment: every direct dependency at the lowest its bound admits.

`python scripts/min_versions_env.py` prints the environment's folder. tests/test_install.py runs the fast tests
and lessons 00-02 in it. Each requirement of pyproject.toml (runtime and the lab and dev extras) is held to its
bound's release series (`numpy>=1.24` to `numpy==1.24.*`) and uv takes the lowest release there
(`--resolution lowest-direct`); what they pull in comes at the newest that fits. A bound that cannot be met
that way (another requirement needs newer) fails the build, naming the package. torch is the exception: it
stays at the build the running environment has (here the CPU wheel 2.13.0 the Makefile installs from this
machine's disk; no older CPU wheel lies here).

The environment is built once per clone, in `.venv-min/` (ignored), and rebuilt when pyproject.toml, this
script, the Python or torch changes (the key in `.venv-min/.key`).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the dev extra installs tomli, the same reader
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-min"
EXTRAS = "lab,dev"
#: The one dependency not taken at its bound: older torch has no CPU wheel on this machine's disk.
UNPINNED = {"torch"}


def uv_command() -> list[str]:
    """How to call uv: the `uv` package's binary in this Python's environment, else one on PATH."""
    try:
        from uv import find_uv_bin

        return [find_uv_bin()]
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise RuntimeError("uv is missing: pip install -e '.[dev]' (the dev extra has it)") from None
        return [found]


def declared_requirements() -> list[Requirement]:
    """pyproject.toml's runtime requirements and those of the extras the environment installs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS.split(","):
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def lower_bound(requirement: Requirement) -> Version:
    """The version of a requirement's `>=` bound (tests/test_project.py keeps every bound a `>=`)."""
    bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    if len(bounds) != 1:
        raise ValueError(f"{requirement}: expected exactly one >= bound")
    return bounds[0]


def constraints(torch_version: str) -> tuple[str, str]:
    """(constraints, overrides) file texts: each bound's release series, and torch at the given version."""
    pins = [f"{req.name}=={lower_bound(req)}.*" for req in declared_requirements() if req.name not in UNPINNED]
    return "\n".join(pins) + "\n", f"torch=={torch_version}\n"


def environment_key(python: str = sys.executable) -> str:
    """What the environment is built from: pyproject.toml, this script, the Python and torch versions."""
    digest = hashlib.sha256(version("torch").encode())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(Path(__file__).read_bytes())
    python_version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             check=True).stdout
    digest.update(python_version.encode())
    return digest.hexdigest()


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv / "bin" / "python"


def find_links() -> list[str]:
    """pip's find-links as uv arguments: where this machine keeps wheels no index has (the CPU torch)."""
    # uv does not read pip's configuration; the local torch wheel is found through pip's find-links.
    links = os.environ.get("PIP_FIND_LINKS", "")
    if not links:
        try:
            links = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                                   capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            links = ""
    return [arg for link in links.split() for arg in ("--find-links", link)]


def build(venv: Path = VENV, *, python: str = sys.executable) -> tuple[Path, bool]:
    """Make the environment unless one with the same key is there; return (its folder, whether it was built)."""
    key = environment_key(python)
    marker = venv / ".key"
    if marker.exists() and marker.read_text() == key and venv_python(venv).exists():
        return venv, False
    if venv.exists():
        shutil.rmtree(venv)
    uv = uv_command()
    subprocess.run([*uv, "venv", "-q", "--python", python, str(venv)], check=True)
    constraint_text, override_text = constraints(version("torch"))
    (venv / "constraints.txt").write_text(constraint_text)
    (venv / "overrides.txt").write_text(override_text)
    subprocess.run([*uv, "pip", "install", "-q", "--python", str(venv_python(venv)), "--resolution", "lowest-direct",
                    "--constraint", str(venv / "constraints.txt"), "--override", str(venv / "overrides.txt"),
                    *find_links(), "-e", f"{ROOT}[{EXTRAS}]"], check=True)
    # The kernel papermill starts for the lessons must be this environment's Python.
    # -Xfrozen_modules=off: without it the debugger ipykernel loads prints a four-line warning.
    subprocess.run([str(venv_python(venv)), "-Xfrozen_modules=off", "-m", "ipykernel", "install", "--sys-prefix",
                    "--name", "python3", "--display-name", "Python 3"], check=True, stdout=subprocess.DEVNULL)
    marker.write_text(key)
    return venv, True


def main() -> int:
    """Build or reuse the environment and say which, with the time it took."""
    start = time.perf_counter()
    venv, built = build()
    print(f"{'built' if built else 'reused'} {venv} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
