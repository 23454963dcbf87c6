"""Argument checks shared by every module: fail before any work, naming the parameter and what it allows."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Return ``value`` as a float, or raise ValueError naming ``name`` and its allowed range."""
    lo = "-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
    hi = "inf" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
    allowed = f"{lo}, {hi}" if low is not None and high is not None else (
        f">= {low:g}" if low_inclusive else f"> {low:g}") if low is not None else (
        f"<= {high:g}" if high_inclusive else f"< {high:g}") if high is not None else "a finite number"
    if isinstance(value, (str, bytes)):  # "5e-5" would pass float() here and fail far from where it was typed
        raise ValueError(f"{name} must be a number ({allowed}), got the text {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number ({allowed}), got {value!r}") from None
    if isinstance(value, bool) or math.isnan(number) or math.isinf(number):
        raise ValueError(f"{name} must be a finite number ({allowed}), got {value!r}")
    too_low = low is not None and (number < low if low_inclusive else number <= low)
    too_high = high is not None and (number > high if high_inclusive else number >= high)
    if too_low or too_high:
        where = f"in {allowed}" if low is not None and high is not None else allowed
        raise ValueError(f"{name} must be {where}, got {value!r}")
    return number


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name`` and its allowed range."""
    allowed = (f"an integer in [{low}, {high}]" if low is not None and high is not None
               else f"an integer >= {low}" if low is not None
               else f"an integer <= {high}" if high is not None else "an integer")
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        try:
            import numpy as np
            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except (ImportError, TypeError):
            raise ValueError(f"{name} must be {allowed}, got {value!r}") from None
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def choice_error(name: str, value: Any, allowed: Iterable[Any]) -> ValueError:
    """The ValueError for a value outside ``allowed``, listing the choices (for callers that already know)."""
    listed = ", ".join(repr(c) for c in allowed)
    return ValueError(f"{name} must be one of {listed}; got {value!r}")


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ValueError listing the choices."""
    choices = list(allowed)
    if value not in choices:
        raise choice_error(name, value, choices)
    return value


def check_text(name: str, value: Any) -> str:
    """Return ``value`` unchanged if it is a string with some non-blank text, else raise ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a non-empty string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string (got an empty or blank text)")
    return value
