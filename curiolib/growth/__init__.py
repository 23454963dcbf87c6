"""Lessons 01, 05 and 07: the knowledge-growth model I(t+1) = I(t) + α(βE + (1−β)R), its figures, its fit to
measured learning curves, and the effort experiment that tests it on a real learner (`experiment`,
`effort_fit`). Lessons import each name from curiolib itself: `from curiolib import simulate`.

One name per concept: `fit_series` fits one I, E, R series (lesson 01) and `fit_active_learning_run` an
active-learning run's curve (lesson 05), both a `SeriesFit`; `fit_effort_experiment` and `fit_power_law` fit lesson
07's effort experiment, an `EffortFit`. `optimal_beta` is the model's best share, `experiment_optimal_beta` the
experiment's. `EXPERIMENT_SCALES` are lesson 07's knowledge scales, `RUN_SCORES` lesson 05's.
"""
from .effort_fit import (EffortFit, ExperimentOptimalBeta, experiment_optimal_beta, fit_effort_experiment,
                         fit_power_law, growth_gain, heldout_comparison, power_law_gain, seed_interval, with_gain)
from .experiment import (EXPERIMENT_SCALES, EffortData, ProbeLearner, effort_data, effort_schedule, knowledge,
                         run_effort_experiment, run_effort_split)
from .learning_curves import (RUN_SCORES, check_rounds_for_growth_fit, fit_active_learning_run, growth_score,
                              predicted_curve)
from .model import (OptimalBeta, SeriesFit, Trajectory, closed_form, closed_form_optimal_beta, fit_series,
                    material_limited_final, optimal_beta, simulate)
from .plots import (GROWTH_STAGES, growth_explorer, plot_curiosity_loop, plot_effort_curves, plot_final_by_beta,
                    plot_final_heatmap, plot_fit, plot_heldout_predictions, plot_optimal_beta, plot_trajectories)

__all__ = ["EXPERIMENT_SCALES", "GROWTH_STAGES", "RUN_SCORES", "EffortData", "EffortFit", "ExperimentOptimalBeta",
           "ProbeLearner", "effort_data", "effort_schedule", "experiment_optimal_beta", "fit_effort_experiment",
           "fit_power_law", "growth_gain", "heldout_comparison", "knowledge", "power_law_gain",
           "run_effort_experiment", "run_effort_split", "seed_interval", "with_gain", "OptimalBeta", "SeriesFit",
           "Trajectory", "check_rounds_for_growth_fit", "closed_form", "closed_form_optimal_beta",
           "fit_active_learning_run", "fit_series", "growth_explorer", "growth_score", "material_limited_final",
           "optimal_beta", "plot_curiosity_loop", "plot_effort_curves", "plot_final_by_beta",
           "plot_heldout_predictions", "plot_final_heatmap", "plot_fit", "plot_optimal_beta", "plot_trajectories",
           "predicted_curve", "simulate"]
