"""Active learning: each strategy picks what it should on hand-made pools; the loop repeats and resumes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _checks import assert_same_weights

import curiolib.active.loop as active
from curiolib.active import (ActiveLearningConfig, ActiveLearningRun, entropy, farthest_first, labels_to_reach,
                             least_confidence, run_active_learning, select, summarise_against_random)
from curiolib.data import load_sentiment
from curiolib.finetune.models import load_model_for_task
from curiolib.growth import check_rounds_for_growth_fit, fit_active_learning_run

# Six pool examples: two right at the decision boundary (indices 2 and 4), the rest confident.
PROBABILITIES = np.array([[0.99, 0.01], [0.05, 0.95], [0.52, 0.48], [0.9, 0.1], [0.45, 0.55], [0.2, 0.8]])


@pytest.mark.parametrize("strategy", ["least_confidence", "entropy"])
def test_uncertainty_picks_the_examples_nearest_the_boundary(strategy: str) -> None:
    assert sorted(select(strategy, 2, PROBABILITIES)) == [2, 4]
    assert select(strategy, 3, PROBABILITIES)[2] == 5  # then the next least sure (0.8)


def test_uncertainty_scores_by_hand() -> None:
    assert np.allclose(least_confidence(PROBABILITIES[[2]]), 0.48)
    assert np.isclose(entropy(np.array([[0.5, 0.5]]))[0], np.log(2))
    assert np.isclose(entropy(np.array([[1.0, 0.0]]))[0], 0.0)


def test_entropy_is_minus_sum_p_log_p_in_nats_row_by_row() -> None:
    rows = np.array([[0.5, 0.25, 0.25], [0.7, 0.3, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0]])
    by_hand = [1.5 * np.log(2), -(0.7 * np.log(0.7) + 0.3 * np.log(0.3)), np.log(3), 0.0]
    result = entropy(rows)
    assert result.shape == (4,) and result.dtype == np.float64
    assert np.allclose(result, by_hand, rtol=1e-12, atol=1e-9)
    assert np.allclose(entropy(rows.astype(np.float32)), by_hand, rtol=1e-6, atol=1e-6)


def test_random_picks_distinct_examples_and_repeats_with_its_seed() -> None:
    first = select("random", 4, PROBABILITIES, rng=np.random.default_rng(3))
    again = select("random", 4, PROBABILITIES, rng=np.random.default_rng(3))
    assert len(set(first)) == 4 and list(first) == list(again)


def test_farthest_first_explores_the_empty_region() -> None:
    labelled = np.array([[0.0, 0.0], [0.1, 0.0]])
    candidates = np.array([[0.05, 0.05], [5.0, 5.0], [0.0, 0.1], [-4.0, 4.0], [5.1, 5.0]])
    picks = farthest_first(candidates, labelled, 2)
    assert list(picks) == [4, 3]  # the far cluster first, then the other far point, not its twin at [5, 5]
    assert list(farthest_first(candidates, np.empty((0, 2)), 1)) == [0]  # nothing labelled: start anywhere


def _farthest_first_by_hand(candidates: np.ndarray, labelled: np.ndarray, k: int) -> list[int]:
    """Each step: the unpicked candidate whose nearest labelled-or-picked point is farthest (first on a tie)."""
    picks: list[int] = []
    for _ in range(k):
        chosen = [*labelled, *candidates[picks]]
        gaps = [-np.inf if i in picks else min((np.sqrt(sum((c - p) ** 2)) for p in chosen), default=np.inf)
                for i, c in enumerate(candidates)]
        picks.append(int(np.argmax(gaps)))
    return picks


@pytest.mark.parametrize("seed", range(5))
def test_farthest_first_matches_a_brute_force_on_a_small_pool(seed: int) -> None:
    rng = np.random.default_rng(seed)
    candidates, labelled = rng.normal(size=(12, 3)), rng.normal(size=(seed, 3))
    assert list(farthest_first(candidates, labelled, 6)) == _farthest_first_by_hand(candidates, labelled, 6)


def test_explore_exploit_mixes_by_diversity_share() -> None:
    embeddings = np.array([[0.0, 0.0], [0.0, 0.1], [0.1, 0.0], [9.0, 9.0], [0.1, 0.1], [0.0, 0.2]])
    labelled = np.array([[0.0, 0.05]])
    assert sorted(select("explore_exploit", 2, PROBABILITIES, embeddings, labelled, diversity_share=0.0)) == [2, 4]
    assert list(select("explore_exploit", 1, PROBABILITIES, embeddings, labelled, diversity_share=1.0)) == [3]
    mixed = select("explore_exploit", 2, PROBABILITIES, embeddings, labelled, diversity_share=0.5)
    assert list(mixed) == [3, 2]  # one explored (the far point), one exploited (the most uncertain)


@pytest.mark.parametrize("kwargs, match", [
    ({"strategy": "curious"}, "strategy must be one of"),
    ({"rounds": 0}, "rounds must be an integer >= 1"),
    ({"diversity_share": 1.5}, r"diversity_share must be in \[0, 1\]"),
    ({"labels_per_round": 64, "candidates": 32}, "candidates must be >= the most labels a round asks for"),
    ({"label_schedule": [100, 600], "candidates": 400}, r"candidates must be >= the most labels a round asks for \(5"),
    ({"replay": -1, "training": "warm"}, "replay must be an integer >= 0"),
    ({"replay": 8}, "replay applies to training='warm' only"),
    ({"training": "hot"}, "training must be one of"),
    ({"label_schedule": [100, 100, 300]}, "label_schedule must be increasing"),
    ({"label_schedule": []}, "label_schedule must be increasing"),
    ({"label_schedule": [10.5, 20]}, "label_schedule must be increasing whole numbers"),
    ({"label_schedule": [10, 20], "rounds": 4}, "give label_schedule or rounds, not both"),
])
def test_bad_settings_name_the_parameter(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ActiveLearningConfig(**kwargs)


@pytest.fixture(scope="module")
def tiny_data():
    data = load_sentiment(verbose=False)
    data["train"] = data["train"].select(range(64))
    data["validation"] = data["validation"].select(range(32))
    return data


def _tiny_config(tmp_path, **changes) -> ActiveLearningConfig:
    settings = dict(strategy="explore_exploit", seed_size=8, labels_per_round=8, rounds=3, candidates=24,
                    epochs_per_round=1, train_batch_size=8, output_dir=str(tmp_path / "run"), seed=1)
    return ActiveLearningConfig(**(settings | changes))


def _loop(data, config, model_name: str, **kwargs) -> tuple[ActiveLearningRun, torch.nn.Module]:
    """The run, and the model it trained (holding the last round's weights)."""
    tokenizer, model = load_model_for_task(model_name, "sequence", ["negative", "positive"], seed=0)
    return run_active_learning(model, tokenizer, data, config, **kwargs), model


def _run(data, config, model_name: str, **kwargs) -> ActiveLearningRun:
    return _loop(data, config, model_name, **kwargs)[0]


#: Each round's figures that come from the model: its accuracy after training, and the entropies of what it
#: predicted when it chose the round's labels. The small model's accuracy may not move from round to round;
#: the entropies change with every weight.
SCORED = ["accuracy", "asked_entropy", "candidate_entropy"]


def test_a_batch_larger_than_the_pool_is_refused_before_any_work(tiny_data, tmp_path, small_model) -> None:
    with pytest.raises(ValueError, match="more labels than the pool"):
        _run(tiny_data, _tiny_config(tmp_path, rounds=10, labels_per_round=24, candidates=24), small_model)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_loop_repeats_with_its_seed_and_resumes_at_a_round_boundary(tiny_data, tmp_path, small_model) -> None:
    first, first_model = _loop(tiny_data, _tiny_config(tmp_path / "a"), small_model)
    history = first.history
    assert list(history["labels"]) == [0, 8, 16, 24] and list(history["E"]) == [0, 8, 8, 8]
    assert list(history["R"]) == [0, 0, 8, 16]  # one pass: every example but the new ones is a re-read
    assert len({i for batch in first.queried for i in batch}) == 24  # never asks about an example twice
    second, second_model = _loop(tiny_data, _tiny_config(tmp_path / "b"), small_model)
    assert second.queried == first.queried
    assert np.allclose(second.history[SCORED], history[SCORED], equal_nan=True)
    assert_same_weights(second_model, first_model)

    # Ctrl-C in round 3's training: a hook on the model raises at its 4th training forward pass (round 1
    # trains on 8 labels, one batch; round 2 on 16, two batches); scoring and evaluation run in eval mode.
    tokenizer, model = load_model_for_task(small_model, "sequence", ["negative", "positive"], seed=0)
    forwards = []

    def interrupt_in_round_3(module, _inputs):
        if module.training:
            forwards.append(1)
            if len(forwards) == 4:
                raise KeyboardInterrupt("the class ran out of time")

    hook = model.register_forward_pre_hook(interrupt_in_round_3)
    with pytest.raises(KeyboardInterrupt):
        run_active_learning(model, tokenizer, tiny_data, _tiny_config(tmp_path / "c"))
    hook.remove()
    assert len(forwards) == 4
    resumed, resumed_model = _loop(tiny_data, _tiny_config(tmp_path / "c"), small_model, resume=True)
    assert resumed.queried == first.queried
    assert np.allclose(resumed.history[SCORED], history[SCORED], equal_nan=True)
    assert_same_weights(resumed_model, first_model)  # round 3 trained as the uninterrupted run's did


def test_a_label_schedule_sets_each_rounds_labelled_set() -> None:
    config = ActiveLearningConfig(label_schedule=[100, 300, 1000], candidates=700)
    assert config.round_sizes() == [100, 300, 1000] and config.labels_needed() == 1000
    assert ActiveLearningConfig(seed_size=8, labels_per_round=4, rounds=3).round_sizes() == [8, 12, 16]


@pytest.mark.slow
def test_a_scratch_round_is_the_plain_recipe_on_the_same_labels_and_a_warm_one_is_not(tiny_data, tmp_path,
                                                                                      small_model) -> None:
    """The loop's "scratch" model after round 2 is exactly a fresh pretrained model trained on its 16 labels."""
    from transformers import DataCollatorWithPadding

    from curiolib.data import tokenize_sentences

    config = _tiny_config(tmp_path / "loop", strategy="entropy", rounds=2)
    tokenizer, model = load_model_for_task(small_model, "sequence", ["negative", "positive"], seed=0)
    run = run_active_learning(model, tokenizer, tiny_data, config)
    labels = [index for batch in run.queried for index in batch]
    _, fresh = load_model_for_task(small_model, "sequence", ["negative", "positive"], seed=0)
    pool = tokenize_sentences(tiny_data["train"], tokenizer, max_length=config.max_length)
    validation = tokenize_sentences(tiny_data["validation"], tokenizer, max_length=config.max_length)
    result = active.train_round(fresh, pool.select(labels), validation, DataCollatorWithPadding(tokenizer), config,
                                round_number=config.rounds, output_dir=tmp_path / "plain")
    assert result.final_metrics["accuracy"] == run.history["accuracy"].iloc[-1]
    for (name, mine), (_, plain) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(mine, plain), name

    _, warm_model = load_model_for_task(small_model, "sequence", ["negative", "positive"], seed=0)
    warm_config = _tiny_config(tmp_path / "warm", strategy="entropy", rounds=2, training="warm")
    warm = run_active_learning(warm_model, tokenizer, tiny_data, warm_config)
    assert warm.queried[0] == run.queried[0]  # the same seed set: the runs part when training does
    assert not all(torch.equal(a, b) for a, b in zip(warm_model.state_dict().values(), fresh.state_dict().values()))


def test_the_frozen_embedding_peer_fits_logistic_regression_on_each_rounds_labels(tiny_data) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from curiolib.active import frozen_embedding_peer
    from curiolib.tasks.sentiment import sentence_vectors

    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"], seed=0)
    queried = [[0, 1, 2, 3], [10, 11, 12, 13, 14, 15, 16, 17]]
    history = pd.DataFrame({"round": [0, 1, 2], "labels": [0, 4, 12], "accuracy": 0.5, "E": 0, "R": 0, "seconds": 0})
    source = ActiveLearningRun(config=ActiveLearningConfig(seed=3), history=history, queried=queried)
    (peer,) = frozen_embedding_peer(model, tokenizer, tiny_data, [source])
    assert list(peer.history["labels"]) == [0, 4, 12] and peer.queried == queried
    train = tiny_data["train"].select([0, 1, 2, 3] + list(range(10, 18)))
    vectors = sentence_vectors(model, tokenizer, train["sentence"], max_length=64)["mean of the token vectors"]
    heldout = sentence_vectors(model, tokenizer, tiny_data["validation"]["sentence"],
                               max_length=64)["mean of the token vectors"]
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=3)).fit(vectors,
                                                                                                   train["label"])
    assert peer.history["accuracy"].iloc[-1] == pytest.approx(probe.score(heldout, tiny_data["validation"]["label"]))
    with pytest.raises(ValueError, match="runs must hold at least one"):
        frozen_embedding_peer(model, tokenizer, tiny_data, [])


def test_labels_to_reach_reads_the_curve() -> None:
    history = pd.DataFrame({"round": [0, 1, 2, 3], "labels": [0, 32, 64, 96], "accuracy": [0.5, 0.7, 0.86, 0.9]})
    assert labels_to_reach(history, 0.85) == 64 and np.isnan(labels_to_reach(history, 0.95))


def test_growth_fit_recovers_alpha_and_beta_from_a_synthetic_curve() -> None:
    alpha, beta, rounds = 0.02, 0.7, 12
    labels = 32 * np.arange(1, rounds + 1)
    E = np.full(rounds, 32.0)
    R = 2 * labels - E  # two passes over the labelled set each round
    noise = np.random.default_rng(0).normal(0, 1e-4, rounds)
    increments = alpha * (beta * E + (1 - beta) * R) / 100 + noise
    history = pd.DataFrame({"round": np.arange(rounds + 1), "labels": np.r_[0, labels], "E": np.r_[0, E],
                            "R": np.r_[0, R], "accuracy": 0.5 + np.r_[0, np.cumsum(increments)]})
    fitted = fit_active_learning_run(history)
    assert fitted.identifiable
    assert abs(fitted.alpha - alpha) < 3 * fitted.alpha_se + 1e-4
    assert abs(fitted.beta - beta) < 3 * fitted.beta_se + 0.02


def test_the_saturating_fit_recovers_a_curve_that_flattens() -> None:
    alpha, beta, rounds = 0.05, 0.6, 12
    E = np.full(rounds, 32.0)
    R = 2 * 32 * np.arange(1, rounds + 1) - E
    accuracy = [0.5]
    for e, r in zip(E, R):
        accuracy.append(accuracy[-1] + alpha * (beta * e + (1 - beta) * r) / 100 * (1 - accuracy[-1]))
    history = pd.DataFrame({"round": np.arange(rounds + 1), "E": np.r_[0, E], "R": np.r_[0, R],
                            "accuracy": accuracy})
    saturating = fit_active_learning_run(history, capacity=1.0)
    assert np.isclose(saturating.alpha, alpha, rtol=1e-6) and np.isclose(saturating.beta, beta, rtol=1e-6)
    linear = fit_active_learning_run(history)
    assert linear.r_squared < 0.99 < saturating.r_squared
    with pytest.raises(ValueError, match="capacity must be > "):
        fit_active_learning_run(history, capacity=0.5)  # below the accuracy already reached


def test_a_run_too_short_for_the_growth_fit_is_refused_with_the_rounds_it_needs() -> None:
    history = pd.DataFrame({"round": [0, 1, 2], "E": [0, 32, 32], "R": [0, 32, 96], "accuracy": [0.5, 0.6, 0.8]})
    with pytest.raises(ValueError, match="rounds must be an integer >= 3 to fit the growth model.*got 2"):
        fit_active_learning_run(history)
    with pytest.raises(ValueError, match="rounds must be an integer >= 3"):
        check_rounds_for_growth_fit(2)
    assert check_rounds_for_growth_fit(3) == 3


def test_replay_trains_on_the_new_labels_plus_a_sample_of_the_earlier_ones() -> None:
    rng = np.random.default_rng(0)
    earlier, new = list(range(10)), [20, 21]
    assert active.round_training_set(earlier, new, None, rng) == earlier + new  # no replay: re-read everything
    assert active.round_training_set(earlier[:3], new, 5, rng) == [0, 1, 2, 20, 21]  # fewer than 5 so far
    replayed = active.round_training_set(earlier, new, 4, rng)
    assert replayed[-2:] == new and len(set(replayed[:4])) == 4 and set(replayed[:4]) <= set(earlier)


@pytest.mark.slow
def test_a_replay_run_counts_its_re_reads_and_samples_the_labelled_set_it_explores_from(tiny_data, tmp_path,
                                                                                        monkeypatch, small_model):
    scored_sizes = []
    real_embed_and_score = active.embed_and_score

    def recording_embed_and_score(model, dataset, *args, **kwargs):
        scored_sizes.append(len(dataset))
        return real_embed_and_score(model, dataset, *args, **kwargs)

    monkeypatch.setattr(active, "embed_and_score", recording_embed_and_score)
    run = _run(tiny_data, _tiny_config(tmp_path, replay=4, candidates=8, training="warm"), small_model)
    assert 16 not in scored_sizes  # round 3 explores from 8 of its 16 labelled sentences, not all of them
    assert list(run.history["labels"]) == [0, 8, 16, 24]
    assert list(run.history["R"]) == [0, 0, 4, 4]  # the 4 replayed labels, not all the earlier ones
    assert len({i for batch in run.queried for i in batch}) == 24


def test_scores_come_back_in_the_order_of_the_sentences(tiny_data) -> None:
    from transformers import DataCollatorWithPadding

    from curiolib.data import tokenize_sentences

    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"], seed=0)
    sentences = tokenize_sentences(tiny_data["validation"].select(range(12)), tokenizer, max_length=64)
    assert len(set(len(ids) for ids in sentences["input_ids"])) > 3  # lengths differ, so sorting reorders
    collator = DataCollatorWithPadding(tokenizer)
    probabilities, embeddings = active.embed_and_score(model, sentences, collator, batch_size=5)
    one_by_one = [active.embed_and_score(model, sentences.select([i]), collator) for i in range(12)]
    assert np.allclose(probabilities, np.concatenate([p for p, _ in one_by_one]), atol=1e-5)
    assert np.allclose(embeddings, np.concatenate([e for _, e in one_by_one]), atol=1e-5)


def _run_reaching(target_labels: int, seed: int = 0) -> ActiveLearningRun:
    # Accuracy crosses 0.85 first at `target_labels` labels (rounds of 16 labels).
    labels = [0, 16, 32, 48, 64]
    accuracy = [0.5] + [0.9 if n >= target_labels else 0.7 for n in labels[1:]]
    history = pd.DataFrame({"round": range(5), "labels": labels, "E": [0] + [16] * 4, "R": 0,
                            "accuracy": accuracy, "seconds": 1.0})
    return ActiveLearningRun(config=ActiveLearningConfig(seed=seed), history=history)


def test_a_strategy_that_reaches_the_target_in_some_seeds_only_is_not_compared_by_its_mean() -> None:
    runs = {"random": [_run_reaching(32), _run_reaching(32, seed=1)],
            "explore_exploit": [_run_reaching(32), _run_reaching(1000, seed=1)],  # the second never gets there
            "entropy": [_run_reaching(1000), _run_reaching(1000, seed=1)]}
    assert summarise_against_random(runs, 0.85).splitlines() == [
        "explore_exploit to reach 0.85: 32 labels in 1 of 2 seeds; random: 32 labels in 2 of 2 seeds (no comparison "
        "of means while a seed falls short)",
        "entropy to reach 0.85: not reached in any of 2 seeds; random: 32 labels in 2 of 2 seeds (no comparison of "
        "means while a seed falls short)"]


def test_accuracy_by_labels_calls_a_difference_only_where_the_seeds_ranges_part() -> None:
    from curiolib.active import accuracy_by_labels

    def run(accuracy: list[float], seed: int) -> ActiveLearningRun:
        history = pd.DataFrame({"round": [0, 1, 2], "labels": [0, 10, 20], "E": 0, "R": 0,
                                "accuracy": [0.5] + accuracy, "seconds": 0.0})
        return ActiveLearningRun(config=ActiveLearningConfig(seed=seed), history=history)

    runs = {"random": [run([0.6, 0.7], 0), run([0.62, 0.72], 1)],
            "entropy": [run([0.7, 0.71], 0), run([0.75, 0.69], 1)]}
    table = accuracy_by_labels(runs)
    assert table.loc[(10, "entropy"), "verdict"] == "ahead"  # 0.70–0.75 against 0.60–0.62
    assert table.loc[(20, "entropy"), "verdict"] == "within the spread"  # 0.69–0.71 against 0.70–0.72
    assert table.loc[(10, "entropy"), "minus peer"] == pytest.approx(0.115)
    assert table.loc[(20, "random"), "verdict"] == "(the peer)"
    runs["entropy"] = [run([0.5, 0.6], 0), run([0.55, 0.65], 1)]
    assert list(accuracy_by_labels(runs).xs("entropy", level="recipe")["verdict"]) == ["behind", "behind"]
    with pytest.raises(ValueError, match="peer must be one of"):
        accuracy_by_labels(runs, peer="frozen")
    single = accuracy_by_labels({name: name_runs[:1] for name, name_runs in runs.items()})
    assert set(single.xs("entropy", level="recipe")["verdict"]) == {"one seed: no spread to judge by"}


def test_the_summary_sentence_says_fewer_more_or_the_same_as_random() -> None:
    runs = {"random": [_run_reaching(32), _run_reaching(48, seed=1)], "entropy": [_run_reaching(16)],
            "explore_exploit": [_run_reaching(64)], "farthest": [_run_reaching(32), _run_reaching(48, seed=1)]}
    lines = summarise_against_random(runs, 0.85).splitlines()
    assert lines == ["entropy: 16 labels to reach 0.85 against 40 for random, 60% fewer (mean over seeds; the "
                     "seeds' ranges do not overlap)",
                     "explore_exploit: 64 labels to reach 0.85 against 40 for random, 60% more (mean over seeds; the "
                     "seeds' ranges do not overlap)",
                     "farthest: 40 labels to reach 0.85 against 40 for random, the same number (mean over seeds)"]
    runs["entropy"].append(_run_reaching(48, seed=1))  # now 16 and 48: the range overlaps random's 32–48
    assert summarise_against_random(runs, 0.85).splitlines()[0] == (
        "entropy: 32 labels to reach 0.85 against 40 for random, 20% fewer (mean over seeds; within the spread "
        "between seeds (16–48 against 32–48), so these seeds cannot tell the two apart)")


def test_a_folder_of_someone_elses_files_is_refused_and_left_whole(tiny_data, tmp_path, monkeypatch,
                                                                   small_model) -> None:
    notes = tmp_path / "run" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("a student's notes")
    for resume in (False, True):
        with pytest.raises(ValueError, match="did not write"):
            _run(tiny_data, _tiny_config(tmp_path), small_model, resume=resume)
    monkeypatch.chdir(tmp_path / "run")  # output_dir="." used to empty the working directory
    with pytest.raises(ValueError, match="did not write"):
        _run(tiny_data, _tiny_config(tmp_path, output_dir="."), small_model)
    assert notes.read_text() == "a student's notes"


@pytest.mark.slow
def test_resume_in_a_folder_with_no_saved_rounds_says_so_and_starts_at_round_one(tiny_data, tmp_path, capsys,
                                                                                  small_model) -> None:
    run = _run(tiny_data, _tiny_config(tmp_path / "typo", rounds=1), small_model, resume=True)
    assert "no saved rounds" in capsys.readouterr().out
    assert list(run.history["labels"]) == [0, 8]
