"""curiolib: a Jupyter-first course on knowledge growth and fine-tuning small BERT models."""
from __future__ import annotations

from .notebook import record, recorded, save_figure, seed_everything, setup_notebook

__all__ = ["record", "recorded", "save_figure", "seed_everything", "setup_notebook"]
__version__ = "0.1.0"
