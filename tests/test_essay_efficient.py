"""Issue 41 in lessons 05 and 06: explore_exploit's diversity share s (`diversity_share`) is not the growth model's β;
"adapters add no parameters" counted; the head alone against lesson 03's probe."""
from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from curiolib._files import claim_output_dir
from curiolib.active import ActiveLearningConfig, compare_strategies, run_active_learning, select
from curiolib.active.loop import STATE_FILE
from curiolib.data import load_sentiment
from curiolib.efficient import add_lora, count_parameters, merge_lora
from curiolib.finetune.models import load_model_for_task

ROOT = Path(__file__).resolve().parents[1]


def _cells(stem: str) -> list[dict]:
    [path] = (ROOT / "notebooks").glob(f"{stem}_*.ipynb")
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _index(cells: list[dict], needle: str) -> int:
    found = [i for i, cell in enumerate(cells) if needle in "".join(cell["source"])]
    assert len(found) == 1, f"{needle!r} is in cells {found}, expected exactly one"
    return found[0]


# ------------------------------------------------------------------------------------ s is not β (lesson 05)

def test_explore_exploits_share_is_named_diversity_share() -> None:
    assert "beta" not in asdict(ActiveLearningConfig())
    embeddings, probabilities = np.eye(4), np.full((4, 2), 0.5)
    assert len(select("explore_exploit", 2, probabilities, embeddings, diversity_share=1.0)) == 2
    with pytest.raises(TypeError, match="beta"):
        select("explore_exploit", 2, probabilities, embeddings, beta=1.0)


def test_compare_strategies_given_beta_names_its_new_name_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'beta' is now called 'diversity_share'"):
        compare_strategies("minilm", None, ["random"], [0], output_dir=tmp_path / "runs", beta=0.3)
    assert not (tmp_path / "runs").exists()


def test_resuming_a_run_saved_under_beta_names_the_file_and_the_new_name(tmp_path: Path, small_model: str) -> None:
    data = load_sentiment(verbose=False)
    data["train"], data["validation"] = data["train"].select(range(32)), data["validation"].select(range(8))
    config = ActiveLearningConfig(strategy="explore_exploit", seed_size=8, labels_per_round=8, rounds=2,
                                  candidates=16, epochs_per_round=1, output_dir=str(tmp_path / "run"))
    saved = asdict(config)
    saved["beta"] = saved.pop("diversity_share")  # what a run written before the rename holds
    folder = claim_output_dir(config.output_dir)
    (folder / STATE_FILE).write_text(json.dumps({"config": saved, "labelled": [], "queried": [], "history": []}))
    tokenizer, model = load_model_for_task(small_model, "sequence", ["negative", "positive"], seed=0)
    with pytest.raises(ValueError, match=re.escape(str(folder / STATE_FILE)) + r".*'beta', now 'diversity_share'"):
        run_active_learning(model, tokenizer, data, config, resume=True)


def test_a_benchmark_resumed_from_stages_saved_under_beta_names_the_file_and_the_new_name(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks._common import SetupError, Stages, parse_settings, settings_dict
        from benchmarks.active_learning import ActiveLearningSettings, LoopSettings

        settings, loop = parse_settings("", ActiveLearningSettings, LoopSettings,
                                        argv=["--tiny", "--resume", "--work-dir", str(tmp_path), "--diversity-share",
                                              "0.3"])
        everything = settings_dict(settings, loop)
        old = {k: v for k, v in everything.items() if k not in ("data_dir", "output", "work_dir", "resume")}
        old["beta"] = old.pop("diversity_share")
        stages = tmp_path / "stages.json"
        stages.write_text(json.dumps({"benchmark": "active_learning", "settings": old, "stages": {}}))
        with pytest.raises(SetupError, match=re.escape(str(stages)) + r".*diversity_share"):
            Stages(settings, everything)
    finally:
        sys.path.remove(str(ROOT))


def test_lesson_05_calls_explore_exploits_share_diversity_share_and_says_what_the_fitted_beta_measures() -> None:
    cells = _cells("05")
    parameters = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert re.search(r"^diversity_share\s*=", parameters, re.M)
    assert not [i for i, cell in enumerate(cells) if re.search(r"\bbeta\b", "".join(cell["source"]))]
    assert "diversity_share" in "".join(cells[_index(cells, "## 2. Three ways to choose")]["source"])
    # δ is lesson 01's forgetting rate: one symbol, one meaning across the lessons.
    assert not [i for i, cell in enumerate(cells) if "δ" in "".join(cell["source"])]
    # The fitted β's meaning is printed from the fit, right after the cell that fits it.
    fit = _index(cells, "linear = growth_fit_table(runs)")
    meaning = "".join(cells[fit + 1]["source"])
    assert cells[fit + 1]["cell_type"] == "code" and "a/(a + b)" in meaning and "linear.iterrows()" in meaning
    assert not [i for i, cell in enumerate(cells) if "The exercise shows what a fit is for" in "".join(cell["source"])]


# -------------------------------------------------------------- "adapters add no parameters" (lesson 06)

def _held(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_lora_adds_parameters_while_it_trains_and_merging_takes_them_back(small_model: str) -> None:
    _, model = load_model_for_task(small_model, "sequence", ["negative", "positive"], seed=0)
    lora = add_lora(model, "sequence", r=4)
    trainable, total = count_parameters(lora)
    assert _held(lora) - _held(model) == trainable > 0  # the adapters and peft's copy of the head
    assert total == _held(model)  # count_parameters' total is the pretrained model's, adapters left out
    assert _held(merge_lora(lora)) == _held(model)


def test_lesson_06_quotes_the_adapter_claim_and_counts_every_parameter_after_the_lora_table() -> None:
    cells = _cells("06")
    table = _index(cells, '"counted by peft": trainable')
    quote = _index(cells, "在不增加模型参数量的情况下")
    assert quote == table + 1 and cells[quote]["cell_type"] == "markdown"
    assert all(name in "".join(cells[quote]["source"]) for name in ("000_", "003_", "004_", "§7.3"))
    counting = "".join(cells[quote + 1]["source"])
    assert all(part in counting for part in ("merge_lora(lora8)", "Houlsby", "PrefixTuningConfig", "AdaLoraConfig"))


def test_lesson_06_refits_lesson_03s_probe_on_the_features_the_head_read() -> None:
    cells = _cells("06")
    trained = _index(cells, '"head only": fine_tune_head(data, settings)')
    refit = _index(cells, "lesson03 = make_pipeline(StandardScaler(), LogisticRegression(")
    assert refit > trained and "sentence_vectors(probe," in "".join(cells[refit]["source"])
    said = cells[refit + 1]
    assert "nbval-ignore-output" in said["metadata"].get("tags", []) and "ln 2" in "".join(said["source"])
