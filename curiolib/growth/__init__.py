"""Lessons 01 and 05: the knowledge-growth model I(t+1) = I(t) + α(βE + (1−β)R), its figures, and its fit to
measured learning curves. Lesson 01 uses this namespace: `from curiolib import growth`, then `growth.simulate`.
"""
from .learning_curves import SCORES, check_rounds_for_growth_fit, fit_growth_to_run, growth_score, predicted_curve
from .model import (GrowthFit, OptimalBeta, Trajectory, closed_form, closed_form_optimal_beta, fit,
                    material_limited_final, optimal_beta, simulate)
from .plots import (GROWTH_STAGES, growth_explorer, plot_curiosity_loop, plot_final_heatmap, plot_fit,
                    plot_optimal_beta, plot_trajectories)

__all__ = ["GROWTH_STAGES", "SCORES", "GrowthFit", "OptimalBeta", "Trajectory", "check_rounds_for_growth_fit",
           "closed_form", "closed_form_optimal_beta", "fit", "fit_growth_to_run", "growth_explorer", "growth_score",
           "material_limited_final", "optimal_beta", "plot_curiosity_loop", "plot_final_heatmap", "plot_fit",
           "plot_optimal_beta", "plot_trajectories", "predicted_curve", "simulate"]
