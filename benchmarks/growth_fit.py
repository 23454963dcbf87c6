"""Lesson 07's effort experiment on SST-2: does the growth model predict held-out β better than a power law?

    python -m benchmarks.growth_fit            # the full run (needs CURIOLIB_DATA with sst2/)
    python -m benchmarks.growth_fit --tiny     # seconds: what the test suite runs
    python -m benchmarks.growth_fit --resume   # reuse the sentence vectors and the costs already done

Run from the repository root. The learner is lesson 07's: a logistic-regression head on the embedded
encoder's frozen mean-pooled vectors of --train-size pool sentences (20,000 by default), trained by SGD one
example-pass at a time; knowledge is measured on SST-2's 872 validation sentences. For every cost in
--costs, every β in --betas runs with every seed; each seed's growth model and power law are fitted on
--fit-betas and scored on the rest. Writes benchmarks/results/growth_fit.json (or --output): the held-out
RMSE of both models, β* measured and predicted, the fitted parameters with standard errors, per cost.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._common import (BenchmarkSettings, Stages, load_sst2, parse_settings, prepare_work_dir, require_data,
                      results_header, run_main, setting, settings_dict, use_threads, write_results)

FEATURES = "features.npz"


@dataclass
class GrowthFitSettings(BenchmarkSettings):
    """The effort experiment's design, as flags."""

    NAME: ClassVar[str] = "growth_fit"
    TINY: ClassVar[dict[str, Any]] = {"threads": 1, "train_size": 300, "eval_size": 64, "max_length": 32,
                                      "seeds": [0, 1, 2], "rounds": 5, "costs": [1.0, 4.0]}

    train_size: int | None = setting(20000, "pool sentences whose labels the learner can buy (a seeded sample)")
    betas: list[float] = setting(help="shares of the budget spent on new labels",
                                 factory=lambda: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    fit_betas: list[float] = setting(help="the β values the models are fitted on; the others are held out",
                                     factory=lambda: [0.05, 0.25, 0.75, 1.0])
    seeds: list[int] = setting(help="one run of every β per seed", factory=lambda: [0, 1, 2, 3, 4])
    budget: float = setting(40.0, "effort units per round (B)")
    costs: list[float] = setting(help="effort units one new label costs (c)", factory=lambda: [1.0, 4.0, 16.0])
    rounds: int = setting(40, "rounds per run")
    learning_rate: float = setting(0.003, "the learner's SGD step")


def sentence_features(settings: GrowthFitSettings):
    """The pool's and validation split's frozen vectors, saved in --work-dir so --resume skips the encoder."""
    from curiolib._files import writing_atomically
    from curiolib.growth import EffortData, effort_data

    path = settings.work_dir / FEATURES
    if settings.resume and path.exists():
        print(f"sentence vectors: reused from {path} (--resume)", flush=True)
        saved = np.load(path)
        return EffortData(saved["pool_x"], saved["pool_y"], saved["eval_x"], saved["eval_y"], "validation")
    data = load_sst2(settings)
    features = effort_data(data, model_name=settings.model, max_length=settings.max_length, seed=settings.seed)
    with writing_atomically(path, keep_suffix=True) as partial:  # ends in .npz, or numpy would add it
        np.savez(partial, pool_x=features.pool_features, pool_y=features.pool_labels,
                 eval_x=features.eval_features, eval_y=features.eval_labels)
    return features


def one_cost(features, settings: GrowthFitSettings, cost: float) -> dict:
    """Every β × seed at one cost; both models' held-out RMSE per seed, β*, and the all-seed growth fit."""
    from curiolib.growth import (experiment_optimal_beta, fit_effort_experiment, heldout_comparison,
                                 run_effort_experiment, seed_interval)

    curves = run_effort_experiment(features.pool_features, features.pool_labels, features.eval_features,
                                   features.eval_labels, betas=settings.betas, seeds=settings.seeds,
                                   budget=settings.budget, cost=cost, rounds=settings.rounds,
                                   learning_rate=settings.learning_rate)
    heldout = [beta for beta in settings.betas if beta not in settings.fit_betas]
    result: dict[str, Any] = {"cost": cost, "curves": curves.to_dict("records")}
    for scale in ("log_likelihood", "accuracy"):
        table = heldout_comparison(curves, settings.fit_betas, heldout, scale=scale)
        mean, low, high = seed_interval(table["difference"])  # Student's t over the seeds, as lesson 07
        result[scale] = {
            "heldout_rmse": {"growth": table["growth heldout_rmse"].tolist(),
                             "power_law": table["power law heldout_rmse"].tolist()},
            "difference_mean": mean, "difference_95": [low, high]}
    fitted = fit_effort_experiment(curves[curves["beta"].isin(settings.fit_betas)])
    star = experiment_optimal_beta(curves, fitted, budget=settings.budget, cost=cost, rounds=settings.rounds)
    result |= {"parameters": fitted.params, "standard_errors": fitted.standard_errors,
               "beta_star_measured": star.measured, "beta_star_measured_interior": star.measured_interior,
               "beta_star_model": star.model, "beta_star_model_interior": star.model_interior,
               "best_beta_tried": star.best_tried, "next_beta_tried": star.next_tried,
               "best_lead_over_next": {"mean": star.lead[0], "95": [star.lead[1], star.lead[2]]},
               "best_is_ahead": star.best_is_ahead}
    print(f"cost {cost:g}: held-out RMSE growth {np.mean(result['log_likelihood']['heldout_rmse']['growth']):.4f}, "
          f"power law {np.mean(result['log_likelihood']['heldout_rmse']['power_law']):.4f}; β* measured "
          f"{star.measured:.2f}, model {star.model:.2f}", flush=True)
    return result


def readme_row(results: dict) -> str:
    """The README results row: per cost, which model predicted held-out β better, and β*."""
    cells = []
    for cost, row in results["by_cost"].items():
        low, high = row["log_likelihood"]["difference_95"]
        verdict = "growth better" if high < 0 else "power law better" if low > 0 else "a tie"
        ahead = "ahead of" if row["best_is_ahead"] else "not told apart from"
        cells.append(f"c = {float(cost):g}: {verdict} ({row['log_likelihood']['difference_mean']:+.4f}, "
                     f"{low:+.4f} to {high:+.4f}), β* {row['beta_star_measured']:.2f} measured / "
                     f"{row['beta_star_model']:.2f} model (best β tried {row['best_beta_tried']:g} {ahead} "
                     f"{row['next_beta_tried']:g})")
    return ("| growth model vs power law, held-out β (SST-2, log-likelihood RMSE difference) | " + "; ".join(cells)
            + " |")


def main(argv: list[str] | None = None) -> int:
    """Run the design at every cost and write the fits, held-out errors and β*."""
    (settings,) = parse_settings(__doc__, GrowthFitSettings, argv=argv)
    unknown = set(settings.fit_betas) - set(settings.betas)
    if unknown or not set(settings.betas) - set(settings.fit_betas):
        raise ValueError(f"--fit-betas must be some of --betas {settings.betas}, leaving at least one held out; "
                         f"got {settings.fit_betas}")
    if not (settings.resume and (settings.work_dir / FEATURES).exists()):  # before the work dir is made
        require_data(settings, "sst2", "sst2/train.tsv and sst2/validation.tsv")
    from curiolib.course.notebook import quiet

    quiet()
    use_threads(settings)
    prepare_work_dir(settings, own=[FEATURES])
    everything = settings_dict(settings)
    stages = Stages(settings, everything)
    features = sentence_features(settings)
    results = results_header(settings, everything) | {"pool": len(features.pool_labels),
                                                      "validation": len(features.eval_labels)}
    results["by_cost"] = {str(cost): stages.run(f"cost {cost:g}", lambda c=cost: one_cost(features, settings, c))
                          for cost in settings.costs}
    first = results["by_cost"][str(settings.costs[0])]
    # The headline keys, at the first cost; every cost's figures are under by_cost.
    rmse = first["log_likelihood"]["heldout_rmse"]
    results |= {"headline_cost": settings.costs[0],
                "heldout_rmse": {name: float(np.mean(values)) for name, values in rmse.items()},
                "beta_star_measured": first["beta_star_measured"], "beta_star_model": first["beta_star_model"],
                "parameters": first["parameters"], "standard_errors": first["standard_errors"]}
    write_results(results, settings.output, readme_row(results))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
