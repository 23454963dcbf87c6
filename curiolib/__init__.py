"""curiolib: a Jupyter-first course on knowledge growth and fine-tuning small BERT models.

Every name a lesson calls is importable from here (``from curiolib import load_sentiment, train``); lessons
01, 02, 05 and 06 also use their own namespace (``curiolib.growth``, ``.maths``, ``.active``, ``.efficient``).
Where each thing lives, one folder per lesson:

- ``course/``: the lesson catalog, the papermill harness, notebook setup, widgets and sliders
- ``growth/``: the knowledge-growth model and its figures (lessons 01, 05)
- ``maths/``: the calculus and the optimiser demos of lesson 02
- ``data/``: loaders, readers, features, tokenizing (sentences and NER label alignment)
- ``finetune/``: the model registry, the training loop, inference (classify, find entities)
- ``tasks/``: sentiment and NER metrics, error analysis and baselines (lessons 03, 04)
- ``active/``: active-learning strategies, loop, report and plots (lesson 05)
- ``efficient/``: LoRA, int8 and ONNX serving, the comparison, dynamic padding (lesson 06)

Only ``setup_notebook`` and ``record`` are imported at once; the rest loads on first use, so the first cell
of a lesson does not wait for torch.
"""
from __future__ import annotations

import importlib

from .course.notebook import record, recorded, seed_everything, setup_notebook

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, ...]] = {
    ".course.catalog": ("LESSONS", "find_lesson"),
    ".course.harness": ("run_notebook",),
    ".course.widgets": ("explain_input", "ner_widget", "sentiment_widget", "MAX_WIDGET_CHARS"),
    ".course.source": ("show_source",),
    ".data": ("kind_of_text", "load_ner", "load_sentiment", "ner_dataset", "read_conll", "read_text_classification",
              "align_labels_by_position", "align_labels_with_tokens", "tokenize_ner_dataset", "tokenize_sentences",
              "CASES", "case_ids_for_text", "word_case"),
    ".finetune": ("TrainingConfig", "TrainResult", "classify", "evaluate", "find_entities", "load_model_for_task",
                  "load_tokenizer", "predict", "train", "training_step"),
    ".tasks": ("classification_metrics", "compare_sentence_vectors", "dataset_tags", "entity_outcomes",
               "entity_report", "entity_scores",
               "most_confident_mistakes", "ner_metrics", "outcome_table", "paired_accuracy_test", "paired_f1_bootstrap",
               "plot_confusion_matrix",
               "plot_entity_confusion", "seen_entity_baseline", "tfidf_baseline", "wilson_interval",
               "word_level_tags", "worst_tagged_sentences"),
    ".efficient": ("compare_padding",),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = ["record", "recorded", "seed_everything", "setup_notebook", *_WHERE]


#: The lessons' own namespaces, importable as attributes too (`import curiolib; curiolib.growth.simulate`).
_SUBPACKAGES = ("active", "course", "data", "efficient", "finetune", "growth", "maths", "tasks")


def __getattr__(name: str):
    # PEP 562: import a name's module the first time the name is asked for.
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module 'curiolib' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
