"""Lesson 08's forgetting design on SST-2 and the embedded review sites: does replay earn its place?

    python -m benchmarks.forgetting            # the full run (needs CURIOLIB_DATA with sst2/)
    python -m benchmarks.forgetting --tiny     # seconds: what the test suite runs
    python -m benchmarks.forgetting --resume   # reuse the sentence vectors and the stages already done

Run from the repository root. Two learners, as in lesson 08, with SST-2 as the first material, scored on its 872
validation sentences, so that what is forgotten is measured on a large set:
- the probe (lesson 07's softmax regression on frozen mean-pooled vectors) learns SST-2 (a seeded pool of
  --train-size sentences), then the embedded Amazon, IMDb and Yelp sentences, --rounds rounds each, for every
  β in --betas, seed in --seeds and cost in --costs;
- the fine-tuned MiniLM learns SST-2 sentiment (--first-rounds steps), then which site a sentence came from
  (its own head, the embedded training sentences), --finetune-rounds steps, for every β in --finetune-betas and
  seed in --finetune-seeds; SST-2 sentiment is scored again after every --eval-every steps.
Each β's budget splits as in lesson 07 (βB/c new examples, (1−β)B re-reads of earlier material). The growth model
with and without forgetting, a power law and an exponential in labels seen are fitted on --fit-betas and scored
on the other β. Writes benchmarks/results/forgetting.json (or --output): forgetting by β, β* measured and
predicted, the held-out RMSE of each model, for the fine-tuned learner (the headline keys) and under by_learner.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._common import (BenchmarkSettings, Stages, load_sst2, parse_settings, prepare_work_dir, require_data,
                      results_header, run_main, setting, settings_dict, subset, use_threads, write_results)

FEATURES = "features.npz"


@dataclass
class ForgettingSettings(BenchmarkSettings):
    """The forgetting design, as flags."""

    NAME: ClassVar[str] = "forgetting"
    TINY: ClassVar[dict[str, Any]] = {
        "threads": 1, "train_size": 200, "eval_size": 64, "max_length": 16, "seeds": [0, 1], "rounds": 4,
        "budget": 10.0, "costs": [1.0], "betas": [0.25, 0.5, 1.0], "fit_betas": [0.25, 1.0],
        "finetune_seeds": [0, 1], "finetune_betas": [0.25, 0.5, 1.0], "first_rounds": 3, "finetune_rounds": 4,
        "finetune_budget": 4, "eval_every": 2, "site_eval_size": 32, "site_train_size": 40}

    train_size: int | None = setting(5000, "SST-2 training sentences the learners may draw from (a seeded sample)")
    max_length: int = setting(48, "tokens kept per sentence")
    betas: list[float] = setting(help="the probe's shares of each round's budget spent on new examples",
                                 factory=lambda: [0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    fit_betas: list[float] = setting(help="the β values every model is fitted on; the others are held out",
                                     factory=lambda: [0.1, 0.5, 1.0])
    seeds: list[int] = setting(help="the probe's seeds", factory=lambda: [0, 1, 2, 3, 4])
    budget: float = setting(40.0, "the probe's effort units per round (B)")
    costs: list[float] = setting(help="effort units one new example costs the probe (c)", factory=lambda: [1.0, 4.0])
    rounds: int = setting(15, "the probe's rounds per material")
    learning_rate: float = setting(0.003, "the probe's SGD step")
    finetune_betas: list[float] = setting(help="the fine-tuned learner's shares of new examples",
                                          factory=lambda: [0.1, 0.25, 0.5, 0.75, 1.0])
    finetune_seeds: list[int] = setting(help="the fine-tuned learner's seeds", factory=lambda: [0, 1, 2, 3, 4])
    first_rounds: int = setting(100, "steps of SST-2 sentiment before the site task")
    finetune_rounds: int = setting(100, "steps of the site task (with replay)")
    finetune_budget: int = setting(16, "examples per step (B); a new example costs 1")
    eval_every: int = setting(20, "steps between scorings of both tasks")
    finetune_learning_rate: float = setting(1e-4, "AdamW's learning rate for the fine-tuned learner")
    site_eval_size: int | None = setting(None, "the first N embedded validation sentences the site task is scored "
                                               "on (default: all)")
    site_train_size: int | None = setting(None, "the first N embedded training sentences of each site the learners "
                                                "may draw from (default: all)")


_LOADED: dict = {}


def sst2_split(settings: ForgettingSettings):
    """SST-2's training sample and validation sentences (the first material, scored on a large set); read once."""
    key = (settings.data_dir, settings.train_size, settings.eval_size, settings.seed)
    if key not in _LOADED:
        data = subset(load_sst2(settings), settings)
        _LOADED[key] = data["train"], data["validation"]
    return _LOADED[key]


def site_sentences(settings: ForgettingSettings):
    """The embedded sentences with their site, each site's training sentences cut to --site-train-size."""
    from datasets import DatasetDict, concatenate_datasets

    from curiolib.data import SITES, load_sentiment

    sites = load_sentiment(with_site=True, verbose=False)
    if settings.site_train_size is None:
        return sites
    by_site = [sites["train"].filter(lambda row, i=i: row["site"] == i) for i in range(len(SITES))]
    keep = [rows.select(range(min(settings.site_train_size, len(rows)))) for rows in by_site]
    return DatasetDict(sites | {"train": concatenate_datasets(keep)})


def probe_materials(settings: ForgettingSettings):
    """SST-2, then the embedded sites, as frozen vectors; saved in --work-dir so --resume skips the encoder."""
    from curiolib._files import writing_atomically
    from curiolib.data import SITES
    from curiolib.growth import Material, frozen_materials

    path = settings.work_dir / FEATURES
    names = ["sst2"] + SITES
    if settings.resume and path.exists():
        print(f"sentence vectors: reused from {path} (--resume)", flush=True)
        saved = np.load(path)
        return [Material(name, *(saved[f"{name}_{part}"] for part in ("pool_x", "pool_y", "eval_x", "eval_y")))
                for name in names]
    train, validation = sst2_split(settings)
    sites = site_sentences(settings)
    parts = [("sst2", train, validation)] + [
        (name, sites["train"].filter(lambda row, i=i: row["site"] == i),
         sites["validation"].filter(lambda row, i=i: row["site"] == i)) for i, name in enumerate(SITES)]
    materials = frozen_materials(parts, model_name=settings.model, max_length=settings.max_length)
    with writing_atomically(path, keep_suffix=True) as partial:  # ends in .npz, or numpy would add it
        np.savez(partial, **{f"{m.name}_{part}": value for m in materials
                             for part, value in zip(("pool_x", "pool_y", "eval_x", "eval_y"),
                                                    (m.pool_features, m.pool_labels, m.eval_features,
                                                     m.eval_labels))})
    return materials


def probe_cost(materials, settings: ForgettingSettings, cost: float) -> dict:
    """Every β × seed of the probe at one cost, and its summary (`summarize_replay`)."""
    import pandas as pd

    from curiolib.growth import run_replay_sequence, summarize_replay

    curves = pd.concat([run_replay_sequence(materials, beta=beta, budget=settings.budget, cost=cost,
                                            rounds=settings.rounds, seed=seed, learning_rate=settings.learning_rate)
                        for beta in settings.betas for seed in settings.seeds], ignore_index=True)
    summary = summarize_replay(curves, settings.fit_betas)
    _say(f"probe, c = {cost:g}", summary)
    return {"cost": cost, "summary": summary, "curves": curves.to_dict("records")}


def finetune_seed(settings: ForgettingSettings, seed: int) -> dict:
    """The fine-tuned learner's task sequence for one seed: SST-2 sentiment, then the site, every β."""
    from curiolib.data import SITES
    from curiolib.growth import Task, run_task_sequence

    train, validation = sst2_split(settings)
    sites = site_sentences(settings)
    held = sites["validation"]
    if settings.site_eval_size:
        held = held.select(range(min(settings.site_eval_size, len(held))))
    first = Task("sst2", list(train["sentence"]), list(train["label"]), list(validation["sentence"]),
                 list(validation["label"]), 2)
    second = Task("site", list(sites["train"]["sentence"]), list(sites["train"]["site"]), list(held["sentence"]),
                  list(held["site"]), len(SITES))
    curves = run_task_sequence(first, second, betas=settings.finetune_betas, seeds=[seed],
                               budget=settings.finetune_budget, first_rounds=settings.first_rounds,
                               rounds=settings.finetune_rounds, eval_every=settings.eval_every,
                               learning_rate=settings.finetune_learning_rate, max_length=settings.max_length,
                               model_name=settings.model)
    print(f"fine-tuned, seed {seed}: SST-2 after its own stage "
          f"{curves[curves['stage'] == 0]['acc sst2'].iloc[-1]:.3f}", flush=True)
    return {"curves": curves.to_dict("records")}


def _say(what: str, summary: dict) -> None:
    forgetting = summary["forgetting_points"]
    rmse = {model: float(np.mean(values)) for model, values in summary["heldout_rmse"].items()}
    print(f"{what}: forgetting at β = 1 {forgetting['1']['mean']:+.1f} points; held-out RMSE "
          + ", ".join(f"{model} {value:.4f}" for model, value in rmse.items())
          + f"; β* measured {summary['beta_star_measured']:.2f}, model {summary['beta_star_model']:.2f}", flush=True)


def readme_row(results: dict) -> str:
    """The README results row: forgetting without and with replay, which model predicted held-out β best, β*."""
    cells = []
    for learner, summary in [("fine-tuned", results["by_learner"]["fine-tuned"])] + [
            (f"probe c = {cost}", row["summary"]) for cost, row in results["by_learner"]["probe"].items()]:
        forgetting = summary["forgetting_points"]
        half = min((key for key in forgetting if key != "1"), key=lambda key: abs(float(key) - 0.5))
        best = min(summary["heldout_rmse"], key=lambda model: np.mean(summary["heldout_rmse"][model]))
        cells.append(f"{learner}: forgetting {forgetting['1']['mean']:+.1f} points at β = 1, "
                     f"{forgetting[half]['mean']:+.1f} at β = {half}; best held-out model {best}; β* "
                     f"{summary['beta_star_measured']:.2f} measured / {summary['beta_star_model']:.2f} model")
    return "| forgetting and replay (SST-2 first) | " + "; ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    """Run both learners' designs and write forgetting, fits, held-out errors and β*."""
    import pandas as pd

    (settings,) = parse_settings(__doc__, ForgettingSettings, argv=argv)
    for name, betas in (("", settings.betas), ("finetune-", settings.finetune_betas)):
        unknown = set(settings.fit_betas) - set(betas)
        if unknown or not set(betas) - set(settings.fit_betas) or 1.0 not in betas:
            raise ValueError(f"--fit-betas must be some of --{name}betas {betas}, leaving at least one held out, "
                             f"and --{name}betas must hold 1 (no replay, the baseline); got --fit-betas "
                             f"{settings.fit_betas}")
    require_data(settings, "sst2", "sst2/train.tsv and sst2/validation.tsv")
    from curiolib.course.notebook import quiet
    from curiolib.growth import summarize_replay

    quiet()
    use_threads(settings)
    prepare_work_dir(settings, own=[FEATURES])
    everything = settings_dict(settings)
    stages = Stages(settings, everything)
    materials = probe_materials(settings)
    results = results_header(settings, everything) | {
        "sentences": {m.name: {"pool": len(m.pool_labels), "scored": len(m.eval_labels)} for m in materials}}
    probe = {f"{cost:g}": stages.run(f"probe c={cost:g}", lambda c=cost: probe_cost(materials, settings, c))
             for cost in settings.costs}
    runs = [stages.run(f"fine-tuned seed {seed}", lambda s=seed: finetune_seed(settings, s))
            for seed in settings.finetune_seeds]
    curves = pd.concat([pd.DataFrame(run["curves"]) for run in runs], ignore_index=True)
    finetuned = summarize_replay(curves, settings.fit_betas)
    _say("fine-tuned", finetuned)
    results["by_learner"] = {"fine-tuned": finetuned | {"curves": curves.to_dict("records")},
                             "probe": probe}
    # The headline keys: the fine-tuned learner, whose shared encoder is where forgetting is expected.
    results |= {"headline": "fine-tuned",
                "forgetting_points": {beta: row["mean"] for beta, row in finetuned["forgetting_points"].items()},
                "beta_star_measured": finetuned["beta_star_measured"], "beta_star_model": finetuned["beta_star_model"],
                "heldout_rmse": {model: float(np.mean(values)) for model, values in finetuned["heldout_rmse"].items()}}
    write_results(results, settings.output, readme_row(results))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
