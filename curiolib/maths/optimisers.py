"""The pieces of the BERT training loop, each shown alone on a toy problem (notebook 02)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._validation import check_int, check_number
# The training loop's own helper, shown here beside the schedule it sets up (lesson 02 imports it from maths).
from ..finetune.loop import warmup_steps


#: The ill-conditioned bowl of `optimizer_paths`: its curvatures along the two axes, and its minimum.
BOWL_CURVATURES, BOWL_MINIMUM = (1.0, 50.0), (1.0, -1.0)


def _quadratic_loss(params: torch.Tensor) -> torch.Tensor:
    # Curvature 1 along x, 50 along y, minimum at (1, −1).
    (flat, steep), (x0, y0) = BOWL_CURVATURES, BOWL_MINIMUM
    return 0.5 * flat * (params[0] - x0) ** 2 + 0.5 * steep * (params[1] - y0) ** 2


def sgd_rates() -> dict[str, float]:
    """SGD's stability limit 2/λ_max on the bowl, and its best fixed rate 2/(λ_min + λ_max)."""
    flat, steep = BOWL_CURVATURES
    return {"limit": 2 / steep, "best": 2 / (flat + steep)}


def optimizer_paths(steps: int = 100, sgd_lr: float = 0.035, adamw_lr: float = 0.1,
                    weight_decay: float = 0.01) -> dict[str, np.ndarray]:
    """Paths from (−2, 2) on an ill-conditioned bowl: SGD at ``sgd_lr`` and at its best fixed rate, Adam with
    weight decay as an L2 term in the gradient, and AdamW with the same decay applied apart from the gradient."""
    steps = check_int("steps", steps, low=1)
    check_number("weight_decay", weight_decay, low=0)
    makers = {
        f"SGD, lr {sgd_lr:g}": lambda p: torch.optim.SGD([p], lr=sgd_lr),
        f"SGD, best lr {sgd_rates()['best']:.4f}": lambda p: torch.optim.SGD([p], lr=sgd_rates()["best"]),
        "Adam + L2": lambda p: torch.optim.Adam([p], lr=adamw_lr, weight_decay=weight_decay),
        "AdamW": lambda p: torch.optim.AdamW([p], lr=adamw_lr, weight_decay=weight_decay),
    }
    paths = {}
    for name, make in makers.items():
        params = torch.tensor([-2.0, 2.0], dtype=torch.float64, requires_grad=True)
        optimizer = make(params)
        path = [params.detach().clone().numpy()]
        for _ in range(steps):
            optimizer.zero_grad()
            _quadratic_loss(params).backward()
            optimizer.step()
            path.append(params.detach().clone().numpy())
        paths[name] = np.array(path)
    return paths


def linear_warmup_schedule(total_steps: int, warmup_ratio: float, learning_rate: float = 5e-5) -> np.ndarray:
    """The learning rate at every step of transformers' `get_linear_schedule_with_warmup`, as `train` sets it up."""
    from transformers import get_linear_schedule_with_warmup

    total_steps = check_int("total_steps", total_steps, low=1)
    warmup_ratio = check_number("warmup_ratio", warmup_ratio, low=0, high=1)
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup_steps(warmup_ratio, total_steps), total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return np.array(rates)


def _toy_regression(seed: int, n: int = 64) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 5, generator=generator, dtype=torch.float64)
    y = X @ torch.randn(5, 1, generator=generator, dtype=torch.float64) + 0.1 * torch.randn(
        n, 1, generator=generator, dtype=torch.float64)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    return model, X, y


@dataclass(frozen=True)
class AccumulationCheck:
    """Largest gradient difference of k accumulated micro-batches against one big batch, done right and wrong."""

    micro_batches: int
    max_difference: float
    max_difference_without_scaling: float
    ratio_without_scaling: float
    sizes: list[int] = field(default_factory=list)  # examples in each micro-batch


def check_gradient_accumulation(micro_batches: int = 4, seed: int = 0, *, equal: bool = True) -> AccumulationCheck:
    """k micro-batches, each loss divided by k, against one batch k times larger.

    With equal micro-batches the gradients agree to rounding error. With unequal ones (``equal=False``:
    sizes in the ratio 1 : 2 : … : k), as when a token-level loss averages over a different number of real
    tokens in each padded micro-batch, they do not: each mean then weighs its examples differently.
    """
    micro_batches = check_int("micro_batches", micro_batches, low=1, high=10)
    model, X, y = _toy_regression(seed)
    loss_fn = nn.MSELoss()  # mean over the batch, as every loss in the BERT loop
    if equal:
        sizes = [len(X) // micro_batches] * micro_batches
        sizes[-1] += len(X) - sum(sizes)
    else:
        weights = np.arange(1, micro_batches + 1)
        sizes = list(np.maximum(1, np.round(len(X) * weights / weights.sum())).astype(int))
        sizes[-1] = len(X) - sum(sizes[:-1])

    def gradients(scale: bool) -> torch.Tensor:
        model.zero_grad()
        for X_part, y_part in zip(X.split(sizes), y.split(sizes)):
            loss = loss_fn(model(X_part), y_part)
            (loss / micro_batches if scale else loss).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    model.zero_grad()
    loss_fn(model(X), y).backward()
    big = torch.cat([p.grad.flatten() for p in model.parameters()])
    right, wrong = gradients(scale=True), gradients(scale=False)
    return AccumulationCheck(micro_batches=micro_batches, max_difference=float((right - big).abs().max()),
                             max_difference_without_scaling=float((wrong - big).abs().max()),
                             ratio_without_scaling=float(wrong.norm() / big.norm()), sizes=[int(n) for n in sizes])


def clipping_effect(max_norm: float = 1.0, seed: int = 0) -> tuple[float, float]:
    """Gradient norm before and after `clip_grad_norm_`: one spiky batch can't throw the weights far."""
    max_norm = check_number("max_norm", max_norm, low=0, low_inclusive=False)
    model, X, y = _toy_regression(seed)
    nn.MSELoss()(model(X), 100 * y).backward()  # a batch with outlier targets: a huge gradient
    before = float(nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    after = float(torch.cat([p.grad.flatten() for p in model.parameters()]).norm())
    return before, after


@dataclass(frozen=True)
class EarlyStoppingRun:
    """Train and validation loss per epoch of an over-sized model, and where early stopping would stop."""

    train_losses: np.ndarray
    validation_losses: np.ndarray
    best_epoch: int  # the epoch whose weights early stopping keeps
    stopped_epoch: int  # the first epoch with `patience` epochs of no improvement
    train_size: int = 12  # the noisy points it is trained on
    parameters: int = 0  # the network's weights, for a sense of "far too large"


def overfitting_run(epochs: int = 800, patience: int = 50, seed: int = 0,
                    learning_rate: float = 0.01) -> EarlyStoppingRun:
    """A wide MLP on 12 noisy points of a sine: validation loss falls, then rises while train loss keeps falling."""
    epochs = check_int("epochs", epochs, low=1)
    patience = check_int("patience", patience, low=1)
    generator = torch.Generator().manual_seed(seed)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.rand(n, 1, generator=generator, dtype=torch.float64) * 6 - 3
        return x, torch.sin(x) + 0.3 * torch.randn(n, 1, generator=generator, dtype=torch.float64)

    train_size = 12
    (x_train, y_train), (x_val, y_val) = sample(train_size), sample(100)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 1)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.MSELoss()
    train_losses, validation_losses = [], []
    best, best_epoch, stopped = float("inf"), 0, None
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x_train), y_train)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            validation = float(loss_fn(model(x_val), y_val))
        train_losses.append(loss.item())
        validation_losses.append(validation)
        if stopped is None and validation < best:
            best, best_epoch = validation, epoch
        elif stopped is None and epoch - best_epoch >= patience:
            stopped = epoch  # early stopping would end here; we keep going to show what comes after
    return EarlyStoppingRun(np.array(train_losses), np.array(validation_losses), best_epoch,
                            epochs - 1 if stopped is None else stopped, train_size,
                            sum(p.numel() for p in model.parameters()))
