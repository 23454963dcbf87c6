"""Lesson 08: learning that moves on, where what is not rehearsed can be lost, and reflection as replay.

A learner meets materials one after another (stages). Every round of a stage gets the same effort budget B, split
as in lesson 07: a share β buys βB/c new examples of the current material (exploration), the rest re-reads
(1−β)B examples already seen (reflection as replay): from earlier stages when there are any, in the first stage
from its own. After every round the learner is scored on every material (accuracy on held-out sentences).

Two learners:
- `run_replay_sequence`: lesson 07's probe (softmax regression on frozen sentence vectors), one material after
  another, e.g. the review sentences of Amazon, then IMDb, then Yelp. It has no shared encoder to disturb.
- `run_task_sequence`: the embedded MiniLM fine-tuned whole, one task after another on one encoder, each task
  with its own head (sentiment, then which site a sentence came from). Training the second task moves the
  encoder under the first task's head: the classic setting of forgetting. Its first stage is one plain run
  per seed that every β then continues from, so the β values are compared from the same start.

Forgetting (`forgetting_table`) is the points an earlier material lost between the end of its own stage and the
end of the sequence. The growth model, extended by a forgetting term (`replay_growth_curve`), is fitted to the
last stage's curves and compared on held-out β with a power law and an exponential curve in labels seen
(`replay_heldout`); `replay_optimal_beta` gives β* measured and as the fit predicts.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from .._validation import check_choice, check_int, check_number
from .effort_fit import best_tried_share, check_heldout_split, least_squares_errors, seed_interval
from .experiment import ProbeLearner, effort_schedule

#: The learning-curve models lesson 08 compares; the first two are the growth model without and with forgetting.
REPLAY_MODELS = ("growth", "growth + forgetting", "power law", "exponential")
REPLAY_PARAMETERS = {"growth": ("per_new_example", "capacity"),
                     "growth + forgetting": ("per_new_example", "capacity", "per_reread", "forgetting"),
                     "power law": ("ceiling", "exponent"), "exponential": ("ceiling", "scale")}


@dataclass(frozen=True)
class Material:
    """One stage's material for the probe: a pool of labelled vectors to learn from and a held-out set to score."""

    name: str
    pool_features: np.ndarray
    pool_labels: np.ndarray
    eval_features: np.ndarray
    eval_labels: np.ndarray


def frozen_materials(parts: list[tuple[str, object, object]], *, model_name: str = "minilm",
                     max_length: int = 64) -> list[Material]:
    """`Material`s from (name, train split, held-out split) datasets with `sentence` and `label` columns.

    Each sentence becomes the frozen encoder's mean-pooled vector (the pooling the embedded model was trained
    with), standardised with the mean and spread of all the pools together (no labels involved), as lesson 07's
    `effort_data` does for one pool.
    """
    from ..finetune.models import load_model_for_task
    from ..tasks.sentiment import sentence_vectors

    if not parts:
        raise ValueError("parts must name at least one (name, train, held-out) triple")
    tokenizer, model = load_model_for_task(model_name, "sequence", ["a", "b"], seed=0)
    mean = "mean of the token vectors"
    vectors = [(sentence_vectors(model, tokenizer, list(train["sentence"]), max_length=max_length)[mean],
                sentence_vectors(model, tokenizer, list(held["sentence"]), max_length=max_length)[mean])
               for _, train, held in parts]
    pools = np.concatenate([pool for pool, _ in vectors])
    centre, spread = pools.mean(axis=0), pools.std(axis=0) + 1e-8
    return [Material(name, (pool - centre) / spread, np.asarray(train["label"]), (held_x - centre) / spread,
                     np.asarray(held["label"]))
            for (name, train, held), (pool, held_x) in zip(parts, vectors)]


def _check_design(beta: float, budget: float, cost: float, rounds: int) -> None:
    check_number("beta", beta, low=0, high=1)
    check_number("budget", budget, low=0, low_inclusive=False)
    check_number("cost", cost, low=0, low_inclusive=False)
    check_int("rounds", rounds, low=1)


def run_replay_sequence(materials: list[Material], *, beta: float, budget: float, cost: float, rounds: int,
                        seed: int = 0, learning_rate: float = 0.05, replay: bool = True) -> pd.DataFrame:
    """The probe learns each material for ``rounds`` rounds in turn; one row per round, each stage from its round 0.

    Columns: stage, material, round, new, reread, labelled (this stage), and ``acc <name>`` for every material.
    ``replay=False`` is the control: the same new examples in the same order, and no re-reads after the first
    stage, so a β's re-reads can be told from its fewer new examples (`replay_effect`).
    """
    check_choice("replay", replay, (True, False))
    _check_design(beta, budget, cost, rounds)
    if len(materials) < 2 or len({m.name for m in materials}) != len(materials):
        raise ValueError(f"materials must be at least two, with distinct names; got {[m.name for m in materials]}")
    new, reread = effort_schedule(beta, budget, cost, rounds)
    for material in materials:
        if new.sum() > len(material.pool_labels):
            raise ValueError(f"the design buys {new.sum():,} labels a stage but {material.name}'s pool holds "
                             f"{len(material.pool_labels):,}: lower budget or rounds, or raise cost")
    rng = np.random.default_rng(seed)
    num_labels = int(max(max(m.pool_labels.max(), m.eval_labels.max()) for m in materials)) + 1
    learner = ProbeLearner(num_labels, materials[0].pool_features.shape[1], learning_rate)

    def scores() -> dict[str, float]:
        return {f"acc {m.name}": float((learner.probabilities(m.eval_features).argmax(1) == m.eval_labels).mean())
                for m in materials}

    memory: list[tuple[np.ndarray, int]] = []  # (features, label) of every example labelled in earlier stages
    rows = []
    for stage, material in enumerate(materials):
        order = rng.permutation(len(material.pool_labels))
        rows.append({"stage": stage, "material": material.name, "round": 0, "new": 0, "reread": 0,
                     "labelled": 0} | scores())
        labelled = 0
        for t in range(rounds):
            bought = order[labelled:labelled + new[t]]
            for i in bought:
                learner.step(material.pool_features[i], material.pool_labels[i])
            labelled += new[t]
            if memory:  # earlier stages' examples
                drawn = rng.integers(0, len(memory), size=reread[t])  # drawn either way: the same later draws
                for j in drawn if replay else ():
                    learner.step(*memory[j])
                done = int(reread[t]) if replay else 0
            else:  # the first stage re-reads its own, as lesson 07 does (none before the first is bought)
                picks = order[rng.integers(0, labelled, size=reread[t])] if labelled else np.array([], int)
                for i in picks:
                    learner.step(material.pool_features[i], material.pool_labels[i])
                done = len(picks)
            rows.append({"stage": stage, "material": material.name, "round": t + 1, "new": int(new[t]),
                         "reread": done, "labelled": labelled} | scores())
        memory += [(material.pool_features[i], int(material.pool_labels[i])) for i in order[:labelled]]
    return pd.DataFrame(rows).assign(beta=beta, seed=seed, cost=cost, budget=budget, replay=replay)


def _mean_pooled(encoder, ids, mask):
    out = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    weights = mask.unsqueeze(-1).to(out.dtype)
    return (out * weights).sum(1) / weights.sum(1)  # the mean the model was trained with, padding left out


@dataclass(frozen=True)
class Task:
    """One stage's task for the fine-tuned learner: sentences and labels to learn from, and a held-out set."""

    name: str
    texts: list[str]
    labels: list[int]
    eval_texts: list[str]
    eval_labels: list[int]
    num_labels: int


def run_task_sequence(first: Task, second: Task, *, betas: list[float], seeds: list[int], budget: int = 16,
                      cost: float = 1.0, first_rounds: int = 100, rounds: int = 100, eval_every: int = 10,
                      learning_rate: float = 5e-5, max_length: int = 48, model_name: str = "minilm",
                      controls: list[float] = (), progress=None) -> pd.DataFrame:
    """The whole MiniLM learns ``first`` (its own head), then ``second`` (another head) with replay of ``first``.

    One optimiser step a round on that round's examples: in stage 0 ``budget`` examples of ``first``; in stage 1
    βB/c new examples of ``second`` and (1−β)B re-read examples of ``first``. Every ``eval_every`` rounds both
    heads are scored. Stage 0 runs once per seed and every β continues from its end (same encoder, same order of
    new examples), so the β values differ only in the split. Rows as `run_replay_sequence`'s. Each β in
    ``controls`` also runs without its re-reads (``replay`` False): the same new examples, nothing replayed.
    """
    for beta in betas:
        _check_design(beta, budget, cost, rounds)
        if effort_schedule(beta, budget, cost, rounds)[0].sum() > len(second.labels):
            raise ValueError(f"at beta={beta} the design buys more labels than {second.name}'s "
                             f"{len(second.labels):,}: lower budget or rounds, or raise cost")
    if not betas or not seeds:
        raise ValueError(f"betas and seeds must each hold at least one value, got {betas!r} and {seeds!r}")
    if set(controls) - set(betas):
        raise ValueError(f"controls must be some of betas {list(betas)}, got {list(controls)}")
    check_int("budget", budget, low=1)
    check_int("first_rounds", first_rounds, low=1)
    check_int("eval_every", eval_every, low=1)
    design = dict(budget=budget, cost=cost, first_rounds=first_rounds, rounds=rounds, eval_every=eval_every,
                  learning_rate=learning_rate, max_length=max_length, progress=progress, controls=list(controls))
    from ..finetune.models import load_model_for_task

    # One load for every seed: each seed starts from these pretrained weights (its heads are its own).
    tokenizer, model = load_model_for_task(model_name, "sequence", ["a", "b"], seed=seeds[0])
    pretrained = copy.deepcopy(model.base_model.state_dict())
    tables = [table for seed in seeds
              for table in _one_seed(first, second, betas, seed, tokenizer=tokenizer, encoder=model.base_model,
                                     pretrained=pretrained, **design)]
    return pd.concat(tables, ignore_index=True)


def _one_seed(first: Task, second: Task, betas: list[float], seed: int, *, tokenizer, encoder, pretrained: dict,
              budget: int, cost: float, first_rounds: int, rounds: int, eval_every: int, learning_rate: float,
              max_length: int, progress, controls: list[float]) -> list[pd.DataFrame]:
    """`run_task_sequence` for one seed: stage 0 once, then stage 1 from its end for every β."""
    import torch

    tasks = (first, second)
    tables = []
    encoder.load_state_dict(pretrained)
    torch.manual_seed(seed)
    heads = torch.nn.ModuleList(torch.nn.Linear(encoder.config.hidden_size, task.num_labels) for task in tasks)
    learner = torch.nn.ModuleDict({"encoder": encoder, "heads": heads})
    encoded = [tokenizer(list(task.texts), truncation=True, max_length=max_length, padding=True,
                         return_tensors="pt") for task in tasks]
    held_out = [tokenizer(list(task.eval_texts), truncation=True, max_length=max_length, padding=True,
                          return_tensors="pt") for task in tasks]
    labels = [torch.tensor(task.labels) for task in tasks]

    def loss_on(which: int, index: np.ndarray):
        ids, mask = encoded[which]["input_ids"][index], encoded[which]["attention_mask"][index]
        width = int(mask.sum(1).max())  # trim the batch to its longest sentence
        logits = heads[which](_mean_pooled(encoder, ids[:, :width], mask[:, :width]))
        return torch.nn.functional.cross_entropy(logits, labels[which][index], reduction="sum")

    # Both tasks scored on the same sentences (lesson 08's): encode them once for both heads.
    same_sentences = list(first.eval_texts) == list(second.eval_texts)

    # Scored in batches of similar length, each trimmed to its longest sentence: most of a run's time is scoring.
    by_length = [np.argsort(encoding["attention_mask"].sum(1).numpy(), kind="stable") for encoding in held_out]

    def pooled_vectors(which: int):
        ids, mask, order = held_out[which]["input_ids"], held_out[which]["attention_mask"], by_length[which]
        vectors = torch.empty(len(order), encoder.config.hidden_size)
        for start in range(0, len(order), 128):
            batch = torch.as_tensor(order[start:start + 128])
            width = int(mask[batch].sum(1).max())
            vectors[batch] = _mean_pooled(encoder, ids[batch][:, :width], mask[batch][:, :width])
        return vectors

    def scores() -> dict[str, float]:
        learner.eval()
        out, pooled = {}, None
        with torch.no_grad():
            for which, task in enumerate(tasks):
                if pooled is None or not same_sentences:
                    pooled = pooled_vectors(which)
                predicted = heads[which](pooled).argmax(1).numpy()
                out[f"acc {task.name}"] = float((predicted == np.asarray(task.eval_labels)).mean())
        learner.train()
        return out

    def step(parts: list[tuple[int, np.ndarray]], optimizer) -> None:
        count = sum(len(index) for _, index in parts)
        loss = sum(loss_on(which, index) for which, index in parts if len(index)) / count
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    rng = np.random.default_rng(seed)
    first_order = np.concatenate([rng.permutation(len(first.labels))
                                  for _ in range(-(-first_rounds * budget // len(first.labels)))])
    optimizer = torch.optim.AdamW(learner.parameters(), lr=learning_rate)
    learner.train()
    stage0 = [{"stage": 0, "material": first.name, "round": 0, "new": 0, "reread": 0, "labelled": 0}
              | scores()]
    since = 0
    for t in range(first_rounds):
        step([(0, first_order[t * budget:(t + 1) * budget])], optimizer)
        since += 1
        if (t + 1) % eval_every == 0 or t + 1 == first_rounds:
            stage0.append({"stage": 0, "material": first.name, "round": t + 1, "new": since * budget,
                           "reread": 0, "labelled": (t + 1) * budget} | scores())
            since = 0
        if progress:
            progress()
    seen = np.unique(first_order[:first_rounds * budget])  # what replay may re-read
    start_state = copy.deepcopy(learner.state_dict())
    second_order = np.random.default_rng(seed + 1).permutation(len(second.labels))
    for beta, replay in [(beta, True) for beta in betas] + [(beta, False) for beta in controls]:
        learner.load_state_dict(start_state)
        optimizer = torch.optim.AdamW(learner.parameters(), lr=learning_rate)
        torch.manual_seed(seed)
        pick = np.random.default_rng([seed, int(round(beta * 1000))])
        new, reread = effort_schedule(beta, budget, cost, rounds)
        rows = stage0 + [stage0[-1] | {"stage": 1, "material": second.name, "round": 0, "new": 0,
                                       "reread": 0, "labelled": 0}]
        labelled, since_new, since_reread = 0, 0, 0
        for t in range(rounds):
            bought = second_order[labelled:labelled + new[t]]
            replayed = seen[pick.integers(0, len(seen), size=reread[t])] if replay else seen[:0]
            if len(bought) or len(replayed):
                step([(1, bought), (0, replayed)], optimizer)
            labelled += int(new[t])
            since_new, since_reread = since_new + int(new[t]), since_reread + len(replayed)
            if (t + 1) % eval_every == 0 or t + 1 == rounds:
                rows.append({"stage": 1, "material": second.name, "round": t + 1, "new": since_new,
                             "reread": since_reread, "labelled": labelled} | scores())
                since_new = since_reread = 0
            if progress:
                progress()
        tables.append(pd.DataFrame(rows).assign(beta=beta, seed=seed, cost=cost, budget=budget, replay=replay))
    return tables


def _replayed(curves: pd.DataFrame) -> pd.DataFrame:
    """The runs with their re-reads (the control runs of `replay_effect` left out)."""
    return curves[curves["replay"]] if "replay" in curves.columns else curves


def _materials(curves: pd.DataFrame) -> list[str]:
    """The materials in the order they were learned."""
    return list(curves.sort_values("stage").drop_duplicates("stage")["material"])


def forgetting_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per β and seed: points each earlier material lost by the end, their mean (forgetting), the final average.

    A material's loss is its accuracy at the end of its own stage minus its accuracy at the end of the sequence,
    in points (100 × accuracy); ``average`` is the final accuracy averaged over every material, in points.
    """
    materials = _materials(curves)
    if "replay" not in curves.columns:
        curves = curves.assign(replay=True)
    rows = []
    for (beta, seed, replay), run in curves.groupby(["beta", "seed", "replay"], sort=True):
        final = run[run["stage"] == run["stage"].max()].sort_values("round").iloc[-1]
        row = {"beta": beta, "seed": seed, "replay": bool(replay)}
        for stage, name in enumerate(materials[:-1]):
            own = run[run["stage"] == stage].sort_values("round").iloc[-1]
            row[f"lost {name}"] = 100 * (own[f"acc {name}"] - final[f"acc {name}"])
        row["forgetting"] = float(np.mean([row[f"lost {name}"] for name in materials[:-1]]))
        row["average"] = 100 * float(np.mean([final[f"acc {name}"] for name in materials]))
        rows.append(row)
    return pd.DataFrame(rows)


def forgetting_by_beta(table: pd.DataFrame, column: str = "forgetting") -> pd.DataFrame:
    """Per β: the mean of ``column`` over seeds with its 95 % t interval, and its paired difference from β = 1."""
    table = _replayed(table)
    pivot = table.pivot_table(index="seed", columns="beta", values=column)
    rows = []
    for beta in pivot.columns:
        mean, low, high = seed_interval(pivot[beta].dropna().to_numpy())
        row = {"beta": beta, "mean": mean, "low": low, "high": high, "seeds": int(pivot[beta].notna().sum())}
        if 1.0 in pivot.columns and beta != 1.0:
            paired = (pivot[beta] - pivot[1.0]).dropna().to_numpy()
            row |= dict(zip(("vs β=1", "vs low", "vs high"), seed_interval(paired)))
        rows.append(row)
    return pd.DataFrame(rows).set_index("beta")


def replay_effect(table: pd.DataFrame, beta: float, column: str = "forgetting") -> tuple[float, float, float]:
    """A β's re-reads on their own: ``column`` with them minus without them (the control), paired by seed.

    Mean and 95 % interval (`seed_interval`). A smaller β has more re-reads and fewer new examples; the control
    keeps the new examples and drops the re-reads, so this difference is the re-reads' alone.
    """
    if "replay" not in table.columns or not ((table["beta"] == beta) & ~table["replay"]).any():
        raise ValueError(f"no control run (replay=False) at beta={beta}: run it with controls=[{beta}]")
    at = table[table["beta"] == beta].pivot_table(index="seed", columns="replay", values=column)
    return seed_interval((at[True] - at[False]).dropna().to_numpy())


def last_stage(curves: pd.DataFrame) -> pd.DataFrame:
    """The last stage's rows with ``old`` (mean accuracy on earlier materials), ``current`` and ``knowledge``.

    ``knowledge`` is the accuracy averaged over all material seen, each material weighted alike.
    """
    materials = _materials(curves)
    curves = _replayed(curves)
    rows = curves[curves["stage"] == len(materials) - 1].sort_values(["beta", "seed", "round"]).copy()
    old = rows[[f"acc {name}" for name in materials[:-1]]].mean(axis=1)
    current = rows[f"acc {materials[-1]}"]
    return rows.assign(old=old, current=current,
                       knowledge=(old * (len(materials) - 1) + current) / len(materials),
                       old_count=len(materials) - 1)


def replay_growth_curve(params, new, reread, old0: float, current0: float, *,
                        old_count: int = 1, chance: float = 0.5) -> tuple[np.ndarray, ...]:
    """(old, current, knowledge) over a stage's rounds: the growth model with forgetting.

    Each round, E new examples move the current material toward the capacity K,
    current ← K − (K − current)·exp(−a·E), and pull the old material toward chance,
    old ← chance + (old − chance)·exp(−λ·E): what is not rehearsed is pushed out.
    Then R re-reads bring the old material back toward where the stage began,
    old ← old₀ − (old₀ − old)·exp(−r·R); it never rises above old₀. With λ = 0
    the old material stays at old₀, so re-reads have nothing to restore: by
    construction, not by finding, they are then worth nothing.
    """
    per_new, capacity, per_reread, forgetting = (list(map(float, params)) + [0.0, 0.0])[:4]
    old, current = [float(old0)], [float(current0)]
    for bought, rereads in zip(new, reread):
        o = chance + (old[-1] - chance) * np.exp(-forgetting * bought)
        old.append(old0 - (old0 - o) * np.exp(-per_reread * rereads))
        current.append(capacity - (capacity - current[-1]) * np.exp(-per_new * bought))
    old, current = np.array(old), np.array(current)
    return old, current, (old * old_count + current) / (old_count + 1)


@dataclass(frozen=True)
class ReplayFit:
    """One of `REPLAY_MODELS` fitted to last-stage curves (`last_stage`): parameters, their errors, RMSE."""

    model: str
    params: dict[str, float]
    standard_errors: dict[str, float]
    rmse: float  # on knowledge, the accuracy averaged over all material seen
    points: int
    chance: float = 0.5

    def predict(self, run: pd.DataFrame) -> np.ndarray:
        """Predicted knowledge for each row of one run's last stage (rounds in order, round 0 first)."""
        run = run.sort_values("round")
        values = list(self.params.values())
        if self.model.startswith("growth"):
            return replay_growth_curve(values, run["new"].to_numpy()[1:], run["reread"].to_numpy()[1:],
                                       run["old"].iloc[0], run["current"].iloc[0],
                                       old_count=int(run["old_count"].iloc[0]), chance=self.chance)[2]
        n = run["labelled"].to_numpy(float)
        shape = 1 - (n + 1) ** -values[1] if self.model == "power law" else 1 - np.exp(-n / values[1])
        return run["knowledge"].iloc[0] + values[0] * shape


def _runs(rows: pd.DataFrame) -> list[pd.DataFrame]:
    return [run.sort_values("round") for _, run in rows.groupby(["beta", "seed"], sort=True)]


def fit_replay_model(rows: pd.DataFrame, model: str, *, chance: float = 0.5) -> ReplayFit:
    """Fit one of `REPLAY_MODELS` by bounded least squares to every round of every run in ``rows`` (`last_stage`).

    The growth models are fitted to both measured series, old and current material; the curves in labels seen
    know only the average, so they are fitted to it. Every model's RMSE is on the average (``knowledge``).
    """
    check_choice("model", model, REPLAY_MODELS)
    runs = _runs(rows)
    names = REPLAY_PARAMETERS[model]
    most = max(float(run["labelled"].max()) for run in runs) or 1.0
    growth = model.startswith("growth")

    def residuals(params: np.ndarray) -> np.ndarray:
        fit = ReplayFit(model, dict(zip(names, params)), {}, 0.0, 0, chance)
        if not growth:
            return np.concatenate([fit.predict(run)[1:] - run["knowledge"].to_numpy()[1:] for run in runs])
        parts = []
        for run in runs:
            old, current, _ = replay_growth_curve(params, run["new"].to_numpy()[1:], run["reread"].to_numpy()[1:],
                                                  run["old"].iloc[0], run["current"].iloc[0],
                                                  old_count=int(run["old_count"].iloc[0]), chance=chance)
            parts += [old[1:] - run["old"].to_numpy()[1:], current[1:] - run["current"].to_numpy()[1:]]
        return np.concatenate(parts)

    if growth:
        lower, upper = [0.0, 0.0, 0.0, 0.0][:len(names)], [np.inf, 1.0, np.inf, np.inf][:len(names)]
        starts = [[rate / most, 0.95, rate / most, rate / most][:len(names)] for rate in (0.3, 3.0, 30.0)]
    else:
        lower, upper = [-1.0, 1e-4], [1.0, 10.0 if model == "power law" else most * 100]
        starts = ([[0.1, exponent] for exponent in (0.1, 0.5, 2.0)] if model == "power law"
                  else [[0.1, most * scale] for scale in (0.05, 0.3, 2.0)])
    best = None
    for start in starts:  # a few starts: the surfaces are not convex
        result = least_squares(residuals, start, bounds=(lower, upper), x_scale="jac")
        if best is None or result.cost < best.cost:
            best = result
    fitted = ReplayFit(model, dict(zip(names, map(float, best.x))), {}, 0.0, 0, chance)
    errors = np.concatenate([fitted.predict(run)[1:] - run["knowledge"].to_numpy()[1:] for run in runs])
    return ReplayFit(model, fitted.params, least_squares_errors(best, names, len(best.fun)),
                     float(np.sqrt(np.mean(errors ** 2))), len(errors), chance)


def replay_heldout(curves: pd.DataFrame, fit_betas: list[float], heldout_betas: list[float], *,
                   chance: float = 0.5) -> pd.DataFrame:
    """Per seed: every model of `REPLAY_MODELS` fitted on ``fit_betas``' last stages, its RMSE on the others'."""
    rows = last_stage(curves)
    check_heldout_split(fit_betas, heldout_betas, rows["beta"])
    table = []
    for seed, runs in rows.groupby("seed"):
        fitting = runs[runs["beta"].isin(fit_betas)]
        held = _runs(runs[runs["beta"].isin(heldout_betas)])
        row = {"seed": seed}
        for model in REPLAY_MODELS:
            fit = fit_replay_model(fitting, model, chance=chance)
            errors = np.concatenate([fit.predict(run)[1:] - run["knowledge"].to_numpy()[1:] for run in held])
            row[model] = float(np.sqrt(np.mean(errors ** 2)))
        table.append(row)
    return pd.DataFrame(table).set_index("seed")


@dataclass(frozen=True)
class ReplayOptimalBeta:
    """The share of new material that maximises final knowledge (accuracy over all material seen)."""

    measured: float
    measured_interior: bool
    model: float
    model_interior: bool
    best_tried: float
    next_tried: float
    lead: tuple[float, float, float]  # best minus next, paired by seed: mean and 95 % interval

    @property
    def best_is_ahead(self) -> bool:
        """Whether the best β tried beats the next beyond the seeds' spread."""
        return bool(self.lead[1] > 0)


def replay_optimal_beta(curves: pd.DataFrame, fitted: ReplayFit, *, resolution: int = 101) -> ReplayOptimalBeta:
    """β* from the runs (mean final knowledge over seeds, interpolated) and from a growth fit of the last stage."""
    if not fitted.model.startswith("growth"):
        raise ValueError(f"replay_optimal_beta needs a growth fit (it has a β); got {fitted.model!r}")
    rows = last_stage(curves)
    finals = rows.groupby(["beta", "seed"]).tail(1).pivot_table(index="seed", columns="beta", values="knowledge")
    measured, interior, best, runner_up, lead = best_tried_share(finals)
    starts = rows[rows["round"] == 0]
    design = rows.iloc[0]
    scored = _runs(rows)[0]["round"].to_numpy()  # the rounds after which a run was scored, 0 first
    grid = np.linspace(0, 1, resolution)
    predicted = []
    for beta in grid:
        new, reread = effort_schedule(beta, float(design["budget"]), float(design["cost"]), int(scored[-1]))
        # the model steps from one scored round to the next, as in the fitted runs
        new, reread = np.add.reduceat(new, scored[:-1]), np.add.reduceat(reread, scored[:-1])
        predicted.append(replay_growth_curve(list(fitted.params.values()), new, reread, starts["old"].mean(),
                                             starts["current"].mean(), old_count=int(design["old_count"]),
                                             chance=fitted.chance)[2][-1])
    predicted = np.array(predicted)
    top = int(np.argmax(predicted))
    return ReplayOptimalBeta(measured=measured, measured_interior=interior, model=float(grid[top]),
                             model_interior=bool(predicted[top] > max(predicted[0], predicted[-1])),
                             best_tried=best, next_tried=runner_up, lead=lead)


def summarize_replay(curves: pd.DataFrame, fit_betas: list[float], *, chance: float = 0.5) -> dict:
    """What lesson 08 and its benchmark report of one design, as plain numbers (JSON-ready).

    Forgetting and final average accuracy by β (mean and 95 % interval over seeds, and paired against β = 1);
    every model's held-out RMSE per seed, fitted on ``fit_betas`` and scored on the other β; the paired
    difference of the growth model with forgetting from each other model; the fits on ``fit_betas`` with their
    standard errors; β* measured and predicted.
    """
    heldout_betas = sorted(set(curves["beta"]) - set(fit_betas))
    table = forgetting_table(curves)
    heldout = replay_heldout(curves, fit_betas, heldout_betas, chance=chance)
    fitting = last_stage(curves[curves["beta"].isin(fit_betas)])
    fits = {model: fit_replay_model(fitting, model, chance=chance) for model in REPLAY_MODELS}
    star = replay_optimal_beta(curves, fits["growth + forgetting"])

    def by_beta(column: str) -> dict:
        return {f"{beta:g}": {key: (None if pd.isna(value) else float(value)) for key, value in row.items()}
                for beta, row in forgetting_by_beta(table, column).iterrows()}

    differences = {}
    for model in REPLAY_MODELS:
        if model != "growth + forgetting":
            mean, low, high = seed_interval((heldout["growth + forgetting"] - heldout[model]).to_numpy())
            differences[model] = {"mean": mean, "95": [low, high]}
    return {"forgetting_points": by_beta("forgetting"), "average_points": by_beta("average"),
            "fit_betas": list(fit_betas), "heldout_betas": heldout_betas,
            "heldout_rmse": {model: heldout[model].tolist() for model in REPLAY_MODELS},
            "heldout_difference": differences,
            "parameters": {model: fit.params for model, fit in fits.items()},
            "standard_errors": {model: fit.standard_errors for model, fit in fits.items()},
            "fit_rmse": {model: fit.rmse for model, fit in fits.items()},
            "beta_star_measured": star.measured, "beta_star_measured_interior": star.measured_interior,
            "beta_star_model": star.model, "beta_star_model_interior": star.model_interior,
            "best_beta_tried": star.best_tried, "next_beta_tried": star.next_tried,
            "best_lead_over_next": {"mean": star.lead[0], "95": [star.lead[1], star.lead[2]]},
            "best_is_ahead": star.best_is_ahead}


def _interval(mean: float, low: float, high: float, unit: str = " points") -> str:
    if np.isnan(low):
        return f"{mean:+.1f}{unit} (one seed: no interval)"
    return f"{mean:+.1f}{unit} (95 % interval {low:+.1f} to {high:+.1f})"


def forgetting_sentence(table: pd.DataFrame, learner: str) -> str:
    """What `forgetting_table`'s numbers say, in words: forgetting without replay, and at the smallest β."""
    by_beta = forgetting_by_beta(table)
    if 1.0 not in by_beta.index:
        raise ValueError("the runs need β = 1 (no replay) to say what replay changes")
    none = by_beta.loc[1.0]
    text = (f"Without replay (β = 1) the {learner}'s forgetting of earlier material (points lost; below 0, gained) "
            f"was {_interval(none['mean'], none['low'], none['high'])} over {int(none['seeds'])} seeds: "
            + ("forgetting beyond the seeds' spread. " if none["low"] > 0 else
               "no forgetting the seeds' spread can tell from none. "))
    least = by_beta.index.min()
    if least < 1.0:
        row = by_beta.loc[least]
        text += (f"At the smallest β tried, {least:g} (the most re-reads, and also the fewest new examples), it was "
                 f"{row['mean']:+.1f} points; the difference from β = 1, paired by seed, "
                 f"{_interval(row['vs β=1'], row['vs low'], row['vs high'])}: "
                 + ("less forgetting beyond the seeds' spread." if row["vs high"] < 0 else
                    "more forgetting beyond the seeds' spread." if row["vs low"] > 0 else
                    "a change the seeds' spread cannot tell from none."))
    return text


def replay_effect_sentence(table: pd.DataFrame, beta: float) -> str:
    """`replay_effect` in words: what a β's re-reads did to forgetting, apart from its fewer new examples."""
    mean, low, high = replay_effect(table, beta)
    at = table[table["beta"] == beta].groupby("replay")["forgetting"].mean()
    return (f"At β = {beta:g}, forgetting with the re-reads {at[True]:+.1f} points and without them (the same new "
            f"examples) {at[False]:+.1f}; the difference, paired by seed, {_interval(mean, low, high)}: "
            + ("the re-reads themselves cut forgetting beyond the seeds' spread." if high < 0 else
               "the re-reads themselves added forgetting beyond the seeds' spread." if low > 0 else
               "the seeds' spread cannot tell the re-reads' own effect from none."))


def heldout_sentence(heldout: pd.DataFrame, model: str = "growth + forgetting") -> str:
    """`replay_heldout`'s table in words: each model's mean RMSE, then ``model`` against each other, paired by seed."""
    means = heldout.mean()
    text = (f"Held-out RMSE, mean over {len(heldout)} seeds (lower is better): "
            + ", ".join(f"{name} {value:.4f}" for name, value in means.items()) + f". {model} minus each other "
            "model, paired by seed (below 0: it predicted better): ")
    parts = []
    for other in heldout.columns:
        if other == model:
            continue
        mean, low, high = seed_interval((heldout[model] - heldout[other]).to_numpy())
        verdict = ("one seed: no interval" if np.isnan(low) else "better beyond the seeds' spread" if high < 0
                   else "worse beyond the seeds' spread" if low > 0 else "not told apart")
        interval = "" if np.isnan(low) else f", 95 % interval {low:+.4f} to {high:+.4f}"
        parts.append(f"against {other} {mean:+.4f}{interval}: {verdict}")
    return text + "; ".join(parts) + "."


def optimal_beta_sentence(star: ReplayOptimalBeta) -> str:
    """β* measured and predicted, in words, with whether the best β tried beats the runner-up beyond the spread."""
    measured = "inside the range of β tried" if star.measured_interior else "at an end of the range of β tried"
    model = "inside (0, 1)" if star.model_interior else "at an end of [0, 1]"
    ahead = ("ahead of" if star.best_is_ahead else "not told apart from")
    return (f"β* measured {star.measured:.2f} ({measured}); the growth model with forgetting puts it at "
            f"{star.model:.2f} ({model}). The best β tried, {star.best_tried:g}, is {ahead} the runner-up, "
            f"{star.next_tried:g}: {_interval(100 * star.lead[0], 100 * star.lead[1], 100 * star.lead[2])} of "
            "final average accuracy.")


def plot_replay_curves(curves: pd.DataFrame, betas: list[float], seed: int, *, title: str = ""):
    """Accuracy on every material through the sequence, one panel per β, for one seed."""
    import matplotlib.pyplot as plt

    materials, curves = _materials(curves), _replayed(curves)
    fig, axes = plt.subplots(1, len(betas), figsize=(3.9 * len(betas), 3.4), sharey=True, squeeze=False)
    for ax, beta in zip(axes[0], betas):
        run = curves[(curves["beta"] == beta) & (curves["seed"] == seed)].sort_values(["stage", "round"])
        offsets = run.groupby("stage")["round"].max().cumsum().shift(fill_value=0)
        x = run["round"] + run["stage"].map(offsets)
        for name in materials:
            ax.plot(x, 100 * run[f"acc {name}"], marker=".", label=name)
        for boundary in offsets.iloc[1:]:
            ax.axvline(boundary, color="grey", lw=0.8, ls="--")
        ax.set_title(f"β = {beta:g}" + (" (no replay)" if beta == 1 else ""))
        ax.set_xlabel("round (dashed: the next stage starts)")
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_replay_predictions(curves: pd.DataFrame, fits: dict[str, ReplayFit], betas: list[float], seed: int):
    """Measured knowledge of the last stage for ``betas`` (one seed) against each fitted model's prediction."""
    import matplotlib.pyplot as plt

    rows = last_stage(curves)
    fig, axes = plt.subplots(1, len(betas), figsize=(3.9 * len(betas), 3.4), sharey=True, squeeze=False)
    for ax, beta in zip(axes[0], betas):
        run = rows[(rows["beta"] == beta) & (rows["seed"] == seed)].sort_values("round")
        ax.plot(run["labelled"], 100 * run["knowledge"], "ko", label="measured")
        for model, fit in fits.items():
            ax.plot(run["labelled"], 100 * fit.predict(run), label=model)
        ax.set_title(f"held out: β = {beta:g}")
        ax.set_xlabel("new labels of the last material")
    axes[0][0].set_ylabel("accuracy over all material (%)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
