"""Lesson 08's library: replay sequences, forgetting, the growth model with a forgetting term, β*."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curiolib.growth import (REPLAY_MODELS, Material, Task, fit_replay_model, forgetting_by_beta, forgetting_table,
                             last_stage, replay_growth_curve, replay_heldout, replay_optimal_beta,
                             run_replay_sequence, run_task_sequence, summarize_replay)
from curiolib.growth.experiment import effort_schedule


def _materials(shift: float = 3.0, n: int = 120, seed: int = 0) -> list[Material]:
    """Two materials whose labels depend on different features (the second's on the first's feature, reversed),
    so learning the second pushes the first out unless it is replayed."""
    rng = np.random.default_rng(seed)
    out = []
    for name, sign in (("first", 1.0), ("second", -1.0)):
        x = rng.normal(size=(2 * n, 4))
        x[:, 1] += shift * (name == "second")  # the second material lives elsewhere: its own bias feature
        y = (sign * x[:, 0] > 0).astype(int)
        out.append(Material(name, x[:n], y[:n], x[n:], y[n:]))
    return out


def _curves(betas=(0.25, 0.5, 0.75, 1.0), seeds=(0, 1, 2), rounds: int = 8) -> pd.DataFrame:
    materials = _materials()
    return pd.concat([run_replay_sequence(materials, beta=beta, budget=10, cost=1, rounds=rounds, seed=seed,
                                          learning_rate=0.1)
                      for beta in betas for seed in seeds], ignore_index=True)


def test_a_sequence_follows_the_budget_and_replays_only_earlier_material() -> None:
    curves = _curves(betas=(0.5,), seeds=(0,))
    new, reread = effort_schedule(0.5, 10, 1, 8)
    for stage in (0, 1):
        rows = curves[curves["stage"] == stage]
        assert rows["round"].tolist() == list(range(9))
        assert rows["new"].tolist()[1:] == new.tolist()
        assert rows["labelled"].iloc[-1] == new.sum()
    # The second stage re-reads the first's labelled examples in full measure (they exist from its round 1).
    assert curves[curves["stage"] == 1]["reread"].tolist()[1:] == reread.tolist()
    # The stage-1 round 0 is where stage 0 ended.
    end, start = curves[curves["stage"] == 0].iloc[-1], curves[curves["stage"] == 1].iloc[0]
    assert end["acc first"] == start["acc first"] and end["acc second"] == start["acc second"]


def test_without_replay_the_first_material_is_forgotten_and_replay_keeps_it() -> None:
    table = forgetting_table(_curves())
    by_beta = forgetting_by_beta(table)
    assert by_beta.loc[1.0, "mean"] > 20  # conflicting materials: the second undoes the first
    assert by_beta.loc[0.25, "mean"] < by_beta.loc[1.0, "mean"] - 10
    assert by_beta.loc[0.25, "vs high"] < 0  # paired against β = 1, beyond the seeds' spread
    assert {"lost first", "forgetting", "average"} <= set(table.columns)
    first = table.iloc[0]
    assert first["forgetting"] == first["lost first"]


def test_the_growth_curve_without_forgetting_keeps_the_old_material_and_with_it_decays_to_chance() -> None:
    new, reread = np.array([10] * 20), np.array([0] * 20)
    old, current, knowledge = replay_growth_curve([0.05, 0.9], new, reread, 0.8, 0.5)
    assert np.all(old == 0.8) and current[-1] == pytest.approx(0.9 - 0.4 * np.exp(-0.05 * 200))
    assert np.allclose(knowledge, (old + current) / 2)
    old, _, _ = replay_growth_curve([0.05, 0.9, 0.0, 0.1], new, reread, 0.8, 0.5)
    assert old[-1] == pytest.approx(0.5 + 0.3 * np.exp(-0.1 * 200)) and old[-1] < 0.51
    # Replay brings it back toward where it started.
    old_r, _, _ = replay_growth_curve([0.05, 0.9, 0.2, 0.1], np.array([5] * 20), np.array([5] * 20), 0.8, 0.5)
    assert old_r[-1] > old[-1] + 0.1


def test_the_fit_recovers_the_growth_curve_with_forgetting_and_predicts_held_out_betas() -> None:
    truth = [0.02, 0.9, 0.03, 0.01]
    rows = []
    for beta in (0.1, 0.25, 0.5, 0.75, 1.0):
        new, reread = effort_schedule(beta, 20, 1, 15)
        old, current, _ = replay_growth_curve(truth, new, reread, 0.85, 0.4)
        for t in range(16):
            rows.append({"beta": beta, "seed": 0, "stage": 1, "material": "b", "round": t,
                         "new": int(new[t - 1]) if t else 0, "reread": int(reread[t - 1]) if t else 0,
                         "labelled": int(new[:t].sum()), "acc a": old[t], "acc b": current[t],
                         "budget": 20.0, "cost": 1.0})
    stage0 = {"beta": None, "seed": 0, "stage": 0, "material": "a", "round": 0, "new": 0, "reread": 0,
              "labelled": 0, "acc a": 0.85, "acc b": 0.4, "budget": 20.0, "cost": 1.0}
    curves = pd.DataFrame([stage0 | {"beta": beta} for beta in (0.1, 0.25, 0.5, 0.75, 1.0)] + rows)
    fitted = fit_replay_model(last_stage(curves[curves["beta"].isin([0.1, 0.5, 1.0])]), "growth + forgetting")
    assert np.allclose(list(fitted.params.values()), truth, rtol=1e-3), fitted.params
    assert fitted.rmse < 1e-6
    heldout = replay_heldout(curves, [0.1, 0.5, 1.0], [0.25, 0.75])
    assert list(heldout.columns) == list(REPLAY_MODELS)
    assert heldout.loc[0, "growth + forgetting"] < 1e-5
    assert heldout.loc[0, "growth + forgetting"] < min(heldout.loc[0, "power law"], heldout.loc[0, "exponential"])
    star = replay_optimal_beta(curves, fitted)
    grid = np.linspace(0, 1, 101)
    finals = [replay_growth_curve(truth, *effort_schedule(b, 20, 1, 15), 0.85, 0.4)[2][-1] for b in grid]
    assert star.model == pytest.approx(grid[int(np.argmax(finals))])
    assert 0 < star.model < 1 and star.model_interior


def test_the_summary_is_plain_numbers_and_says_the_same_as_its_parts() -> None:
    curves = _curves()
    summary = summarize_replay(curves, [0.25, 1.0])
    assert summary["heldout_betas"] == [0.5, 0.75]
    by_beta = forgetting_by_beta(forgetting_table(curves))
    assert summary["forgetting_points"]["1"]["mean"] == pytest.approx(by_beta.loc[1.0, "mean"])
    assert set(summary["heldout_rmse"]) == set(REPLAY_MODELS)
    assert all(len(values) == 3 for values in summary["heldout_rmse"].values())
    import json

    json.dumps(summary, allow_nan=True)


@pytest.mark.parametrize("bad, message", [({"beta": 1.5}, "beta"), ({"cost": 0}, "cost"), ({"rounds": 0}, "rounds"),
                                          ({"budget": 1e6}, "pool holds")])
def test_a_bad_design_is_refused_before_any_work(bad: dict, message: str) -> None:
    design = {"beta": 0.5, "budget": 10, "cost": 1, "rounds": 4} | bad
    with pytest.raises(ValueError, match=message):
        run_replay_sequence(_materials(), **design)


def test_the_task_sequence_refuses_a_design_that_buys_more_than_the_task_holds() -> None:
    task = Task("t", ["a b"] * 4, [0, 1] * 2, ["a"], [0], 2)
    with pytest.raises(ValueError, match="buys more labels"):
        run_task_sequence(task, task, betas=[1.0], seeds=[0], budget=4, rounds=5)
    with pytest.raises(ValueError, match="beta"):
        run_task_sequence(task, task, betas=[2.0], seeds=[0], budget=4, rounds=1)


def test_the_site_column_is_there_only_when_asked_and_only_for_the_embedded_sentences() -> None:
    from curiolib.data import SITES, load_sentiment

    plain = load_sentiment(verbose=False)
    sites = load_sentiment(with_site=True, verbose=False)
    assert "site" not in plain["train"].column_names
    assert sites["train"].features["site"].names == SITES
    assert sites["train"]["sentence"] == plain["train"]["sentence"]
    counts = np.bincount(sites["validation"]["site"])
    assert counts.tolist() == [100, 99, 99]
    with pytest.raises(ValueError, match="with_site"):
        load_sentiment("sst2", with_site=True)


def test_the_control_keeps_the_new_examples_and_drops_only_the_re_reads() -> None:
    materials = _materials()
    design = dict(beta=0.25, budget=10, cost=1, rounds=8, seed=1, learning_rate=0.1)
    with_rereads = run_replay_sequence(materials, **design)
    control = run_replay_sequence(materials, replay=False, **design)
    assert control["replay"].eq(False).all() and with_rereads["replay"].all()
    first = control["stage"] == 0  # the first stage re-reads its own in both: the second starts from one learner
    assert control[first].drop(columns="replay").equals(with_rereads[first].drop(columns="replay"))
    assert (control[~first]["reread"] == 0).all()
    assert control[~first]["labelled"].tolist() == with_rereads[~first]["labelled"].tolist()
    table = forgetting_table(pd.concat([with_rereads, control]))
    assert sorted(table["replay"]) == [False, True]
    # With conflicting materials the re-reads are what keeps the first: forgetting far smaller with them.
    lost = table.set_index("replay")["forgetting"]
    assert lost[True] < lost[False] - 10
    assert len(forgetting_by_beta(table)) == 1  # the control is left out of the β table


def test_the_re_reads_own_effect_is_paired_by_seed_and_refused_without_a_control() -> None:
    from curiolib.growth import replay_effect, replay_effect_sentence

    table = pd.DataFrame([{"beta": 0.1, "seed": seed, "replay": replay, "forgetting": value}
                          for seed, (a, b) in enumerate([(1.0, 9.0), (2.0, 11.0), (0.0, 10.0)])
                          for replay, value in ((True, a), (False, b))])
    mean, low, high = replay_effect(table, 0.1)
    assert mean == pytest.approx(-9.0) and high < 0
    assert "cut forgetting beyond the seeds' spread" in replay_effect_sentence(table, 0.1)
    with pytest.raises(ValueError, match="controls"):
        replay_effect(table[table["replay"]], 0.1)
