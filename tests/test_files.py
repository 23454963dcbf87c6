"""Files are written one way: through a temporary name moved into place by the helpers in `curiolib._files`.

The first test reads the code (no call runs) and fails on any other move of a file or folder into place; the
others try the helpers as a failure would: a writer that raises half way, a folder swap cut short.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from curiolib._files import (MARKER, claim_output_dir, move_into_place, partial_path, previous_folder, replace_folder,
                             write_bytes_atomically, write_text_atomically, writing_atomically)

ROOT = Path(__file__).resolve().parents[1]
#: Where the package, the benchmarks and the scripts live; `_files.py` is the one place allowed to move files.
SCANNED = ("curiolib", "benchmarks", "scripts")
HELPERS = ROOT / "curiolib" / "_files.py"


def _moves(tree: ast.AST) -> list[tuple[int, str]]:
    """The calls in ``tree`` that move a file or folder onto another name: (line, the call as written).

    The rule, from the call alone (ast knows no types):
    - ``os.replace``, ``os.rename``, ``os.renames`` and ``shutil.move``, called through their module;
    - ``X.rename(dst)`` and ``X.replace(dst)``: one positional argument and no keyword, the form of
      `pathlib.Path.rename` and `pathlib.Path.replace`. ``str.replace(old, new)`` takes two arguments;
      pandas' ``rename(columns=...)`` (tasks/ner.py) and ``dataclasses.replace(obj, field=...)`` take keywords,
      so they pass. A pandas ``Series.rename("name")`` would be flagged: write it ``rename(index="name")``.
    """
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, owner = node.func.attr, node.func.value
        module = owner.id if isinstance(owner, ast.Name) else None
        through_module = (module == "os" and name in {"replace", "rename", "renames"}) or (
            module == "shutil" and name == "move")
        path_like = name in {"rename", "replace"} and len(node.args) == 1 and not node.keywords
        if through_module or path_like:
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def test_files_are_moved_into_place_only_by_the_helpers() -> None:
    offending = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == HELPERS:
                continue
            for line, call in _moves(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                offending.append(f"{path.relative_to(ROOT)}:{line}: {call}")
    assert not offending, ("move files into place with curiolib._files (write_text_atomically, "
                           "write_bytes_atomically, writing_atomically, move_into_place, replace_folder), not:\n"
                           + "\n".join(offending))


@pytest.mark.parametrize("source, flagged", [
    ("os.replace(a, b)", True), ("os.rename(a, b)", True), ("shutil.move(a, b)", True),
    ("partial.rename(target)", True), ("partial.replace(target)", True), ("Path(a).rename(b)", True),
    ("text.replace('_', '-')", False), ("frame.rename(columns={'a': 'b'})", False),
    ("dataclasses.replace(settings, seed=1)", False), ("os.path.join(a, b)", False)])
def test_the_rule_flags_moves_and_passes_text_and_pandas(source: str, flagged: bool) -> None:
    assert bool(_moves(ast.parse(source))) is flagged


# --- The helpers ---------------------------------------------------------------------------------------------


def test_text_and_bytes_round_trip_and_leave_nothing_beside(tmp_path: Path) -> None:
    write_text_atomically(tmp_path / "a.txt", "β = 0.5\n", encoding="utf-8")
    write_bytes_atomically(tmp_path / "b.bin", b"\x00\xff")
    write_text_atomically(tmp_path / "a.txt", "replaced\n")
    assert (tmp_path / "a.txt").read_text() == "replaced\n" and (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_writer_that_fails_half_way_keeps_the_old_file_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the last good model")
    seen = []

    def half_then_fail(partial: Path) -> None:  # a library writing the file itself (onnx, papermill, savefig)
        partial.write_bytes(b"half a mod")
        seen.append(partial)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"), writing_atomically(target) as partial:
        assert target.read_bytes() == b"the last good model"  # nothing of the new file is under the final name
        half_then_fail(partial)
    assert target.read_bytes() == b"the last good model"
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".") and seen[0] != target
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.onnx"]


def test_ctrl_c_during_a_text_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.md"
    target.write_text("the last good summary")
    real = Path.write_text

    def interrupted(self: Path, text: str, *args, **kwargs) -> int:
        real(self, text[:3], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomically(target, "a new summary")
    monkeypatch.undo()
    assert target.read_text() == "the last good summary"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["summary.md"]


def test_a_partial_name_is_hidden_unique_and_keeps_the_suffix_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "sweep.png"
    plain, suffixed = partial_path(target), partial_path(target, keep_suffix=True)
    assert plain.parent == suffixed.parent == tmp_path
    assert plain.name.startswith(".sweep.png.") and plain.name.endswith(".partial")
    # matplotlib, numpy and papermill choose the format by the name's ending.
    assert suffixed.name.startswith(".sweep.") and suffixed.name.endswith(".partial.png")
    assert partial_path(target) != plain  # two writers of one file (threads of a sweep) never share a partial


def test_move_into_place_replaces_the_target_in_one_step(tmp_path: Path) -> None:
    (tmp_path / "run.ipynb").write_text("old")
    finished = partial_path(tmp_path / "run.ipynb", keep_suffix=True)
    finished.write_text("new")
    move_into_place(finished, tmp_path / "run.ipynb")
    assert (tmp_path / "run.ipynb").read_text() == "new" and not finished.exists()


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "model.safetensors").write_text(text)
    return path


@pytest.mark.parametrize("keep_previous", [True, False])
def test_a_folder_swap_keeps_the_old_folder_until_the_new_one_is_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_previous: bool) -> None:
    import curiolib._files as files

    target = _folder(tmp_path / "best", "old")
    staging = _folder(tmp_path / "best.partial", "new")
    real = files.os.replace
    states = []

    def watched(source, destination) -> None:  # what a reader finds between the two moves of the swap
        real(source, destination)
        if Path(destination) != target:
            present = [path.name for path in tmp_path.iterdir() if (path / "model.safetensors").exists()]
            states.append({name: (tmp_path / name / "model.safetensors").read_text() for name in present})

    monkeypatch.setattr(files.os, "replace", watched)
    replace_folder(staging, target, keep_previous=keep_previous)
    monkeypatch.undo()
    assert len(states) == 1  # one move aside, then the new folder in
    between = states[0]  # no best/ for a moment: the old copy is still whole, aside, and the new one staged
    assert "best" not in between and sorted(between.values()) == ["new", "old"]
    aside = next(name for name, text in between.items() if text == "old")
    # With keep_previous, at the name a reader knows (finetune's restore_best and resume read best.previous).
    assert aside == previous_folder(target).name if keep_previous else aside.startswith(".best.")
    assert (target / "model.safetensors").read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best"]


def test_a_folder_swap_that_fails_puts_the_old_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import curiolib._files as files

    target = _folder(tmp_path / "slides_assets", "old")
    staging = _folder(tmp_path / ".slides_assets.new", "new")
    real = files.os.replace

    def fail_moving_the_new_one_in(source, destination) -> None:
        if Path(source) == staging:
            raise OSError(28, "No space left on device")
        real(source, destination)

    monkeypatch.setattr(files.os, "replace", fail_moving_the_new_one_in)
    with pytest.raises(OSError, match="No space"):
        replace_folder(staging, target)
    monkeypatch.undo()
    assert (target / "model.safetensors").read_text() == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == [".slides_assets.new", "slides_assets"]


def test_a_folder_swap_cut_short_leaves_the_previous_one_as_the_copy_to_read(tmp_path: Path) -> None:
    # A crash between the two moves left best.previous and no best/: the next swap must not delete the only copy
    # before the new one is in place, and deletes it once it is.
    previous = _folder(previous_folder(tmp_path / "best"), "old")
    staging = _folder(tmp_path / "best.partial", "new")
    replace_folder(staging, tmp_path / "best", keep_previous=True)
    assert (tmp_path / "best" / "model.safetensors").read_text() == "new" and not previous.exists()


def test_a_folder_replaces_a_file_or_a_link(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "assets").symlink_to(tmp_path / "elsewhere")
    replace_folder(_folder(tmp_path / "staging", "new"), tmp_path / "assets")
    assert not (tmp_path / "assets").is_symlink() and (tmp_path / "elsewhere").is_dir()  # the link, not its folder
    (tmp_path / "deck").write_text("a file")
    replace_folder(_folder(tmp_path / "staging", "new"), tmp_path / "deck")
    assert (tmp_path / "deck" / "model.safetensors").read_text() == "new"


# --- One folder claim, one JSON conversion ----------------------------------------------------------------------


def test_a_benchmark_work_dir_claims_through_the_library_and_keeps_its_own_old_folders(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks._common import LEGACY_MARKER, SetupError, Stages, prepare_work_dir
        from benchmarks.sentiment import SentimentSettings
    finally:
        sys.path.remove(str(ROOT))
    old = tmp_path / "old"  # a work dir an earlier benchmark marked with its own marker only
    old.mkdir()
    (old / LEGACY_MARKER).write_text("sentiment\n")
    (old / "main").mkdir()
    (old / "keep.txt").write_text("not in own")
    prepare_work_dir(SentimentSettings(work_dir=old), own=["main", "budget"])
    assert (old / MARKER).exists() and not (old / "main").exists() and (old / "keep.txt").exists()
    assert claim_output_dir(old) == old

    foreign = tmp_path / "foreign"
    (foreign / "main").mkdir(parents=True)
    with pytest.raises(SetupError, match="did not write"):
        prepare_work_dir(SentimentSettings(work_dir=foreign), own=["main"])
    assert (foreign / "main").is_dir()

    other = tmp_path / "ner-old"
    other.mkdir()
    (other / LEGACY_MARKER).write_text("ner\n")
    with pytest.raises(SetupError, match="benchmarks.ner"):
        prepare_work_dir(SentimentSettings(work_dir=other), own=["main"])

    # A new folder: one marker, the library's; the stages file says whose it is.
    new = tmp_path / "new"
    settings = SentimentSettings(work_dir=new)
    prepare_work_dir(settings, own=["main"])
    Stages(settings, {"seed": 0})
    assert sorted(path.name for path in new.iterdir()) == [MARKER, "stages.json"]
    settings.NAME = "ner"  # another benchmark pointed at it: refused, its stages are not cleared
    with pytest.raises(SetupError, match="benchmarks.sentiment"):
        prepare_work_dir(settings, own=["main"])
    assert (new / "stages.json").exists()


def test_one_json_conversion_for_the_lessons_and_the_benchmarks(tmp_path: Path) -> None:
    import sys

    from curiolib.course.notebook import jsonable

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import _common
    finally:
        sys.path.remove(str(ROOT))
    assert not hasattr(_common, "_jsonable")  # one definition, imported
    value = {"scalar": np.float32(0.5), "int": np.int64(3), "array": np.arange(3), "path": tmp_path,
             "nested": ({np.int64(1): np.bool_(True)},), "zero_d": np.array(2.5)}
    expected = {"scalar": 0.5, "int": 3, "array": [0, 1, 2], "path": str(tmp_path), "nested": [{"1": True}],
                "zero_d": 2.5}
    assert jsonable(value) == expected
    assert type(jsonable(np.float32(0.5))) is float
    _common.write_json(tmp_path / "r.json", value)
    assert json.loads((tmp_path / "r.json").read_text()) == expected
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.json"]
