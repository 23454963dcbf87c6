"""Lesson 02: the mathematics of fine-tuning, every formula checkable.

`calculus`: losses and gradients in numpy, checked by central differences; `optimisers`: the training loop's
pieces on toy problems (AdamW, warm-up, accumulation, clipping, early stopping); `plots`: their figures.
"""
from .calculus import (DescentPath, binary_cross_entropy, binary_cross_entropy_gradient, check_gradient,
                       essay_mse_gradient, gradient_descent, mse_gradient, mse_loss, mse_smoothness, numerical_gradient,
                       relative_error, sigmoid, softmax, softmax_cross_entropy, softmax_cross_entropy_gradient)
from .optimisers import (AccumulationCheck, EarlyStoppingRun, check_gradient_accumulation, clipping_effect,
                         linear_warmup_schedule, optimizer_paths, overfitting_run, sgd_rates, warmup_steps)
from .plots import descent_explorer, plot_descent

__all__ = ["AccumulationCheck", "DescentPath", "EarlyStoppingRun", "binary_cross_entropy",
           "binary_cross_entropy_gradient", "check_gradient", "check_gradient_accumulation", "clipping_effect",
           "descent_explorer", "essay_mse_gradient", "gradient_descent", "linear_warmup_schedule", "mse_gradient",
           "mse_loss", "mse_smoothness", "numerical_gradient", "optimizer_paths", "overfitting_run", "plot_descent",
           "relative_error", "sgd_rates", "sigmoid", "softmax", "softmax_cross_entropy",
           "softmax_cross_entropy_gradient", "warmup_steps"]
