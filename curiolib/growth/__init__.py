"""Lessons 01, 05, 07 and 08: the knowledge-growth model I(t+1) = I(t) + α(βE + (1−β)R), its figures, its fit to
measured learning curves, the effort experiment that tests it on a real learner (`experiment`, `effort_fit`), and
learning that moves on, where replay fights forgetting (`forgetting`, lesson 08). Lessons import each name from
curiolib itself: `from curiolib import simulate`.

One name per concept: `fit_series` fits one I, E, R series (lesson 01) and `fit_active_learning_run` an
active-learning run's curve (lesson 05), both a `SeriesFit`; `fit_effort_experiment` and `fit_power_law` fit lesson
07's effort experiment, an `EffortFit`; `fit_replay_model` fits one of lesson 08's `REPLAY_MODELS`, a `ReplayFit`.
`optimal_beta` is the model's best share, `experiment_optimal_beta` the experiment's, `replay_optimal_beta`
lesson 08's. `EXPERIMENT_SCALES` are lesson 07's knowledge scales, `RUN_SCORES` lesson 05's.
"""
from .effort_fit import (EffortFit, ExperimentOptimalBeta, experiment_optimal_beta, fit_effort_experiment,
                         fit_power_law, growth_gain, heldout_comparison, power_law_gain, seed_interval, with_gain)
from .forgetting import (REPLAY_MODELS, Material, ReplayFit, ReplayOptimalBeta, Task, fit_replay_model,
                         frozen_materials,
                         forgetting_by_beta, forgetting_table, last_stage, replay_growth_curve, replay_heldout,
                         replay_optimal_beta, run_replay_sequence, run_task_sequence, summarize_replay,
                         forgetting_sentence, heldout_sentence, optimal_beta_sentence, plot_replay_curves,
                         replay_effect, replay_effect_sentence,
                         plot_replay_predictions)
from .experiment import (EXPERIMENT_SCALES, EffortData, ProbeLearner, effort_data, effort_schedule, knowledge,
                         run_effort_experiment, run_effort_split)
from .learning_curves import (RUN_SCORES, check_rounds_for_growth_fit, fit_active_learning_run, growth_score,
                              predicted_curve)
from .model import (OptimalBeta, SeriesFit, Trajectory, closed_form, closed_form_optimal_beta, fit_series,
                    material_limited_final, optimal_beta, simulate)
from .plots import (GROWTH_STAGES, growth_explorer, plot_curiosity_loop, plot_effort_curves, plot_final_by_beta,
                    plot_final_heatmap, plot_fit, plot_heldout_predictions, plot_optimal_beta, plot_trajectories)

__all__ = ["REPLAY_MODELS", "Material", "ReplayFit", "ReplayOptimalBeta", "Task", "fit_replay_model",
           "frozen_materials",
           "forgetting_by_beta", "forgetting_table", "last_stage", "replay_growth_curve", "replay_heldout",
           "replay_optimal_beta", "run_replay_sequence", "run_task_sequence", "summarize_replay",
           "forgetting_sentence", "heldout_sentence", "optimal_beta_sentence", "plot_replay_curves",
           "replay_effect", "replay_effect_sentence",
           "plot_replay_predictions",
           "EXPERIMENT_SCALES", "GROWTH_STAGES", "RUN_SCORES", "EffortData", "EffortFit", "ExperimentOptimalBeta",
           "ProbeLearner", "effort_data", "effort_schedule", "experiment_optimal_beta", "fit_effort_experiment",
           "fit_power_law", "growth_gain", "heldout_comparison", "knowledge", "power_law_gain",
           "run_effort_experiment", "run_effort_split", "seed_interval", "with_gain", "OptimalBeta", "SeriesFit",
           "Trajectory", "check_rounds_for_growth_fit", "closed_form", "closed_form_optimal_beta",
           "fit_active_learning_run", "fit_series", "growth_explorer", "growth_score", "material_limited_final",
           "optimal_beta", "plot_curiosity_loop", "plot_effort_curves", "plot_final_by_beta",
           "plot_heldout_predictions", "plot_final_heatmap", "plot_fit", "plot_optimal_beta", "plot_trajectories",
           "predicted_curve", "simulate"]
