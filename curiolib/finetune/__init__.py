"""Fine-tuning a small BERT, shared by lessons 03 to 06: `models` (the registry and the embedded default),
`loop` (the training loop), `inference` (`classify` a sentence, `find_entities` in a text), `memory` (giving
back what a lesson is done with)."""
from ..data.hub import hub_reachable  # where it lives: the data loaders ask it too
from .inference import Entity, Prediction, classify, find_entities
from .loop import (Checkpoints, LoopState, TrainingConfig, TrainResult, evaluate, predict, split_batch, train,
                   training_step, warmup_steps)
from .memory import release_memory
from .models import MODELS, load_model_for_task, load_tokenizer, model_info, resolve_model

__all__ = ["MODELS", "Checkpoints", "Entity", "LoopState", "Prediction", "TrainResult", "TrainingConfig", "classify",
           "evaluate", "find_entities", "hub_reachable", "load_model_for_task", "load_tokenizer", "model_info",
           "predict", "release_memory", "resolve_model", "split_batch", "train", "training_step", "warmup_steps"]
