"""Lesson 05: the curiosity loop as active learning (`from curiolib import active`).

`strategies`: how each strategy picks; `loop`: the warm-started, resumable loop and the strategy comparison;
`report`: curves, labels to a target, the growth fit; `plots`: learning curves and fits.
"""
from .loop import (ActiveLearningConfig, ActiveLearningRun, compare_strategies, embed_and_score, round_training_set,
                   run_active_learning)
from .plots import ACTIVE_LEARNING_STAGES, plot_growth_fits, plot_learning_curves
from .report import (growth_fit_table, labels_to_reach, labels_to_target_table, mean_curve, query_uncertainty_table,
                     summarise_against_random)
from .strategies import STRATEGIES, entropy, farthest_first, least_confidence, select

__all__ = ["ACTIVE_LEARNING_STAGES", "STRATEGIES", "ActiveLearningConfig", "ActiveLearningRun",
           "compare_strategies", "embed_and_score", "entropy", "farthest_first", "growth_fit_table", "labels_to_reach",
           "labels_to_target_table", "least_confidence", "mean_curve", "plot_growth_fits", "plot_learning_curves",
           "query_uncertainty_table", "round_training_set", "run_active_learning", "select", "summarise_against_random"]
