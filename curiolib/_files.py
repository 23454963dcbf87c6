"""Folders curiolib writes in: it claims a folder that is new, empty or its own, and clears only its own files.

A folder curiolib made holds a marker file; one with files and no marker belongs to someone else and is
refused, never emptied. Inside its own folder curiolib replaces only the names it writes there.
"""
from __future__ import annotations

import shutil
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
