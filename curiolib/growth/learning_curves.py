"""The growth model fitted to measured learning curves (lesson 05): I from accuracy, E and R counted per round."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_choice, check_int, check_number
from .model import SeriesFit, fit_series

RUN_SCORES = ("accuracy", "log_error")
#: E and R are fitted in hundreds of examples, so α reads as knowledge per hundred examples.
EFFORT_UNIT = 100


def effort(history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """E and R of each round after round 0, in units of ``EFFORT_UNIT`` examples."""
    rows = history.sort_values("round")
    return (rows["E"].to_numpy(dtype=float)[1:] / EFFORT_UNIT, rows["R"].to_numpy(dtype=float)[1:] / EFFORT_UNIT)


def growth_score(accuracy: np.ndarray, score: str = "accuracy") -> np.ndarray:
    """Knowledge I from accuracy: the accuracy itself, or −log(1 − accuracy), which does not saturate at 1."""
    check_choice("score", score, RUN_SCORES)
    accuracy = np.asarray(accuracy, dtype=float)
    return accuracy if score == "accuracy" else -np.log(np.clip(1.0 - accuracy, 1e-6, None))


def check_rounds_for_growth_fit(rounds: int) -> int:
    """Raise ValueError unless a run of ``rounds`` rounds gives the growth fit enough points (rounds >= 3)."""
    rounds = check_int("rounds", rounds, low=1)
    if rounds < 3:  # two unknowns (αβ and α(1−β)): fewer than 3 increments leave nothing to check the fit on
        raise ValueError(f"rounds must be an integer >= 3 to fit the growth model (one increment per round), "
                         f"got {rounds}")
    return rounds


def fit_active_learning_run(history: pd.DataFrame, score: str = "accuracy",
                            capacity: float | None = None) -> SeriesFit:
    """Fit I(t+1) = I(t) + α(βE + (1−β)R) to a run: I from accuracy, E new examples, R extra passes per round.

    With ``capacity=K`` the fitted model is the growth lesson's saturating one, ΔI = α(βE + (1−β)R)·(1 − I/K):
    dividing each increment by (1 − I/K) turns it back into the linear fit. E and R count hundreds of examples
    (``EFFORT_UNIT``).
    """
    rows = history.sort_values("round")
    check_rounds_for_growth_fit(int(rows["round"].max()))
    E, R = effort(rows)
    I = growth_score(rows["accuracy"].to_numpy(), score)  # noqa: E741 - the growth model's symbol
    if capacity is not None:
        check_number("capacity", capacity, low=float(I.max()), low_inclusive=False)
        increments = np.diff(I) / (1 - I[:-1] / capacity)
        I = np.concatenate([[I[0]], I[0] + np.cumsum(increments)])  # noqa: E741
    return fit_series(I, E, R)


def predicted_curve(fitted: SeriesFit, I0: float, E: np.ndarray, R: np.ndarray,
                    capacity: float | None = None) -> np.ndarray:
    """The trajectory a fit draws from I0: linear, or slowed by (1 − I/K) when it was fitted with a capacity K."""
    if capacity is None:
        return fitted.predict(I0, E, R)
    I = [float(I0)]  # noqa: E741
    for e, r in zip(E, R):
        I.append(I[-1] + (fitted.a * e + fitted.b * r) * (1 - I[-1] / capacity))
    return np.array(I)
