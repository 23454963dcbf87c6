"""Assertions several test modules share."""
from __future__ import annotations

import torch


def assert_same_weights(model: torch.nn.Module, expected: torch.nn.Module) -> None:
    """Every tensor of ``model``'s state equals ``expected``'s bit for bit (a resumed or repeated run's weights)."""
    reference = expected.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference[name]), f"{name} differs"
