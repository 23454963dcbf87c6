"""Memory a lesson gives back once it is done with something: a model, its optimizer, a batch's activations."""
from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # a C library other than glibc (musl on Alpine): nothing to trim
        return None


def release_memory() -> None:
    """Free what nothing refers to any more and hand the freed memory back to the operating system.

    ``del model`` only drops a name: the tensors go once nothing else refers to them, and `gc.collect` finds
    the ones held in reference cycles (a model's hooks, an optimizer). On Linux, glibc keeps freed memory for
    reuse, so after a large temporary (the activations of a long batch) the process stays at its peak size
    until asked to trim; on a shared server that memory is missing for everyone else.
    """
    gc.collect()
    return_freed_memory()


def return_freed_memory() -> None:
    """Hand memory already freed back to the operating system, without `gc.collect`'s walk of every object.

    After a batch's activations or an evaluation's outputs, which reference counting frees as soon as they are
    dropped, this is all `release_memory` would do; its collection walks every object the process holds (a
    fifth of a second with torch and transformers imported), once per evaluation of a training run.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
