"""Assertions several test modules share."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from curiolib.classroom.deck import DEFAULT_NODE_MODULES, PACKAGES

if TYPE_CHECKING:
    import torch

#: The static decks' npm assets. `make test` installs them first where npm is found, so under CI a missing one
#: is a failure, not a skip; without npm (a teacher's laptop) the deck tests skip and pytest -ra says so.
needs_deck_assets = pytest.mark.skipif(
    not all((DEFAULT_NODE_MODULES / package / "package.json").exists() for package in PACKAGES)
    and not os.environ.get("CI"),
    reason="the decks' reveal.js and MathJax are not installed (npm was not found, or `npm ci --prefix slides` "
           "was not run): the static-deck tests are skipped")


def assert_same_weights(model: torch.nn.Module, expected: torch.nn.Module) -> None:
    """Every tensor of ``model``'s state equals ``expected``'s bit for bit (a resumed or repeated run's weights)."""
    import torch

    reference = expected.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference[name]), f"{name} differs"
