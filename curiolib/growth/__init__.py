"""Lessons 01, 05 and 07: the knowledge-growth model I(t+1) = I(t) + α(βE + (1−β)R), its figures, its fit to
measured learning curves, and the effort experiment that tests it on a real learner (`experiment`,
`effort_fit`). Lesson 01 uses this namespace: `from curiolib import growth`, then `growth.simulate`.
"""
from .effort_fit import (BetaStar, CurveFit, beta_star, fit_growth, fit_power_law, growth_gain, heldout_comparison,
                         power_law_gain, seed_interval, with_gain)
from .experiment import SCALES as KNOWLEDGE_SCALES
from .experiment import (EffortData, ProbeLearner, effort_data, effort_schedule, knowledge, run_effort_experiment,
                         run_effort_split)
from .learning_curves import SCORES, check_rounds_for_growth_fit, fit_growth_to_run, growth_score, predicted_curve
from .model import (GrowthFit, OptimalBeta, Trajectory, closed_form, closed_form_optimal_beta, fit,
                    material_limited_final, optimal_beta, simulate)
from .plots import (GROWTH_STAGES, growth_explorer, plot_curiosity_loop, plot_effort_curves, plot_final_by_beta,
                    plot_final_heatmap, plot_fit, plot_heldout_predictions, plot_optimal_beta, plot_trajectories)

__all__ = ["GROWTH_STAGES", "KNOWLEDGE_SCALES", "SCORES", "BetaStar", "CurveFit", "EffortData", "GrowthFit",
           "ProbeLearner", "beta_star", "effort_data", "effort_schedule", "fit_growth", "fit_power_law", "growth_gain",
           "heldout_comparison", "knowledge", "power_law_gain", "run_effort_experiment", "run_effort_split",
           "seed_interval", "with_gain", "OptimalBeta", "Trajectory", "check_rounds_for_growth_fit", "closed_form",
           "closed_form_optimal_beta", "fit", "fit_growth_to_run", "growth_explorer", "growth_score",
           "material_limited_final", "optimal_beta", "plot_curiosity_loop", "plot_effort_curves", "plot_final_by_beta",
           "plot_heldout_predictions", "plot_final_heatmap", "plot_fit", "plot_optimal_beta", "plot_trajectories",
           "predicted_curve", "simulate"]
