"""Run by tests/test_training.py under `accelerate launch`: the same tiny training on 1 or 2 processes.

Arguments: output folder, batch size per process, result file, model (a name or a saved folder). Every process
writes its weights' digest beside the result file: data-parallel replicas must end identical.
"""
import hashlib
import json
import sys

import torch.distributed as dist
from transformers import DataCollatorWithPadding

from curiolib.course.notebook import quiet
from curiolib.data import load_sentiment, tokenize_sentences
from curiolib.finetune.loop import TrainingConfig, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks.sentiment import classification_metrics

output_dir, per_process_batch, result_file, model_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
quiet()
data = load_sentiment(verbose=False)
tokenizer, model = load_model_for_task(model_name, "sequence", ["negative", "positive"])
train_set = tokenize_sentences(data["train"].select(range(64)), tokenizer)
eval_set = tokenize_sentences(data["validation"].select(range(32)), tokenizer)
# The last weights, not the best read back from disk: each process's own replica is what is compared.
config = TrainingConfig(output_dir=output_dir, epochs=3, batch_size=per_process_batch, learning_rate=1e-4,
                        load_best_at_end=False, show_progress=False, seed=0)
result = train(model, train_set, eval_set, collator=DataCollatorWithPadding(tokenizer),
               compute_metrics=classification_metrics, config=config)
rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
digest = hashlib.sha256()
for name, value in sorted(model.state_dict().items()):
    digest.update(name.encode() + value.detach().cpu().contiguous().numpy().tobytes())
with open(f"{result_file}.rank{rank}", "w") as handle:
    handle.write(digest.hexdigest())
if result.history is not None and "eval_accuracy" in result.history:
    rows = result.history.dropna(subset=["eval_accuracy"])
    with open(result_file, "w") as handle:
        json.dump({"final_train_loss": float(rows["train_loss"].iloc[-1]), "steps": result.steps,
                   "accuracy": result.final_metrics["accuracy"]}, handle)
