"""Redraw the figures the README shows (images/), the same way lesson 01 draws them: `make figures`.

Lessons never write into the repository; refreshing the README's pictures is this explicit step.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from curiolib import growth  # noqa: E402  (after choosing the non-interactive backend)
from curiolib._files import writing_atomically  # noqa: E402

IMAGES = Path(__file__).resolve().parents[1] / "images"


def main() -> None:
    """Draw lesson 01's trajectories figure into images/knowledge_growth.png."""
    shares = (0.0, 0.25, 0.5, 0.75, 1.0)
    runs = {f"β = {b:.2f}": growth.simulate(0.0, 0.5, b, 1.0, 2.0, 100) for b in shares}
    ax = growth.plot_trajectories(runs, title="Linear model, E = 1, R = 2: reflection pays more")
    path = IMAGES / "knowledge_growth.png"
    with writing_atomically(path, keep_suffix=True) as partial:
        ax.figure.savefig(partial, dpi=110, bbox_inches="tight", format="png")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
