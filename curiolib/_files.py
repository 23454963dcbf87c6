"""How curiolib writes files: in folders it may write in, through a temporary name moved into place.

A folder curiolib made holds a marker file; one with files and no marker belongs to someone else and is
refused, never emptied. Inside its own folder curiolib replaces only the names it writes there.

Every file is written under a hidden temporary name beside its target and moved onto it in one step
(`os.replace`, atomic on one file system), so a reader finds the old file or the new one, never half of
one, and a write that fails (a full disk, Ctrl-C) leaves the old file and no temporary one. These are the
only functions in curiolib, the benchmarks and the scripts that move a file into place (tests/test_files.py
checks it): `write_text_atomically`, `write_bytes_atomically`, `writing_atomically` (for a library that
writes the file itself), `move_into_place` and, for folders, `replace_folder`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

MARKER = ".curiolib"


def claim_output_dir(path: str | Path, *, parameter: str = "output_dir") -> Path:
    """``path`` as a folder curiolib may write in (made if missing); ValueError if it holds someone else's files."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{parameter}={str(path)!r} is a file, not a folder: choose a folder name")
    if folder.is_dir() and not (folder / MARKER).exists() and any(folder.iterdir()):
        raise ValueError(f"{parameter}={str(path)!r} holds files curiolib did not write: choose a new or empty "
                         "folder (curiolib never deletes or overwrites what it did not create; a folder written by a "
                         f"curiolib older than its {MARKER} marker files: move it aside, or, if all in it is "
                         f"curiolib's, put an empty {MARKER} file in it)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by curiolib, which replaces only its own files here\n")
    return folder


def remove_own(folder: Path, names: list[str]) -> None:
    """Delete ``names`` (files or folders curiolib writes) inside a folder `claim_output_dir` returned."""
    if not (folder / MARKER).exists():
        raise ValueError(f"{folder} was not claimed by curiolib: nothing in it is removed")
    for name in names:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


def partial_path(path: str | Path, *, keep_suffix: bool = False) -> Path:
    """A hidden name beside ``path``, unique to this process and call, to write ``path`` under first.

    ``keep_suffix`` ends it with ``path``'s suffix (``.sweep.<tag>.partial.png``), for writers that choose the
    format by the name (matplotlib, numpy's savez, papermill); otherwise it is ``.<name>.<tag>.partial``.
    """
    path = Path(path)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # two threads or processes writing one file never share one
    if keep_suffix:
        return path.with_name(f".{path.stem}.{tag}.partial{path.suffix}")
    return path.with_name(f".{path.name}.{tag}.partial")


def move_into_place(source: str | Path, target: str | Path) -> None:
    """Move the finished file ``source`` onto ``target`` (same folder) in one step: a reader sees old or new."""
    os.replace(source, target)


@contextlib.contextmanager
def writing_atomically(path: str | Path, *, keep_suffix: bool = False) -> Iterator[Path]:
    """The temporary name to write ``path`` under; moved onto ``path`` if the block ends, removed if it raises.

    For a library that writes the file itself: ``with writing_atomically(out) as partial: onnx.save(m, partial)``.
    """
    partial = partial_path(path, keep_suffix=keep_suffix)
    try:
        yield partial
        move_into_place(partial, path)
    finally:  # a full disk or Ctrl-C mid-write: the old file stays, and no half-written one is left beside it
        partial.unlink(missing_ok=True)


def write_text_atomically(path: str | Path, text: str, *, encoding: str | None = None) -> Path:
    """Write ``text`` to ``path`` through a temporary name: a reader never sees half a file, a failure none."""
    with writing_atomically(path) as partial:
        partial.write_text(text, encoding=encoding)
    return Path(path)


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary name: a reader never sees half a file, a failure none."""
    with writing_atomically(path) as partial:
        partial.write_bytes(data)
    return Path(path)


def previous_folder(target: str | Path) -> Path:
    """Where `replace_folder(..., keep_previous=True)` keeps the old ``target`` while the new one moves in."""
    target = Path(target)
    return target.with_name(f"{target.name}.previous")


def replace_folder(staging: str | Path, target: str | Path, *, keep_previous: bool = False) -> None:
    """Put the whole folder ``staging`` in place of ``target`` (a folder, a file, a link or nothing).

    The old ``target`` is moved aside first and deleted only once the new one is in place. With
    ``keep_previous`` it waits at `previous_folder` (``best`` → ``best.previous``), a name a reader looks at
    when it finds no ``target`` (a swap cut short by a crash); otherwise at a hidden name of its own. If the
    new folder cannot be moved in, the old one is put back. ``staging`` must be in ``target``'s folder.
    """
    staging, target = Path(staging), Path(target)
    aside = previous_folder(target) if keep_previous else target.with_name(
        f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.old")
    moved = False
    if target.exists() or target.is_symlink():
        # An older previous is stale only now: with no target, it is the one whole copy left by a swap cut short.
        _remove(aside)
        os.replace(target, aside)  # until the new one is in place, a reader takes this one
        moved = True
    try:
        os.replace(staging, target)
    except BaseException:
        if moved and not (target.exists() or target.is_symlink()):
            os.replace(aside, target)
        raise
    _remove(aside if moved or keep_previous else None)


def _remove(path: Path | None) -> None:
    """Delete a copy curiolib set aside; the new one is already in place, so a copy that will not go is left."""
    if path is None:
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(OSError):
            path.unlink()
