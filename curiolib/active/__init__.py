"""Lesson 05: the curiosity loop as active learning.

`strategies`: how each strategy picks; `loop`: the resumable loop (retrained from scratch or warm-started each
round) and the strategy comparison; `peers`: the plain recipes a strategy must beat; `report`: curves,
labels to a target, the growth fit; `plots`: learning curves and fits.
"""
from .loop import (TRAINING, ActiveLearningConfig, ActiveLearningRun, compare_strategies, embed_and_score,
                   round_training_set, run_active_learning, train_round)
from .peers import frozen_embedding_peer
from .plots import ACTIVE_LEARNING_STAGES, plot_growth_fit_grid, plot_growth_fits, plot_learning_curves
from .report import (accuracy_by_labels, growth_fit_table, labels_to_reach, labels_to_target_table, mean_curve,
                     query_uncertainty_table, summarise_against_random)
from .strategies import STRATEGIES, entropy, farthest_first, least_confidence, select

__all__ = ["ACTIVE_LEARNING_STAGES", "STRATEGIES", "TRAINING", "ActiveLearningConfig", "ActiveLearningRun",
           "accuracy_by_labels", "compare_strategies", "embed_and_score", "entropy", "farthest_first",
           "frozen_embedding_peer", "growth_fit_table", "labels_to_reach", "labels_to_target_table",
           "least_confidence", "mean_curve", "plot_growth_fit_grid", "plot_growth_fits", "plot_learning_curves",
           "query_uncertainty_table", "round_training_set", "run_active_learning", "select",
           "summarise_against_random", "train_round"]
