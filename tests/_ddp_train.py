"""Run by tests/test_training.py under `accelerate launch`: the same tiny training on 1 or 2 processes."""
import json
import sys

from transformers import DataCollatorWithPadding

from curiolib.course.notebook import quiet
from curiolib.data import load_sentiment, tokenize_sentences
from curiolib.finetune.loop import TrainingConfig, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks.sentiment import classification_metrics

output_dir, per_process_batch, result_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
quiet()
data = load_sentiment(verbose=False)
tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"])
train_set = tokenize_sentences(data["train"].select(range(64)), tokenizer)
eval_set = tokenize_sentences(data["validation"].select(range(32)), tokenizer)
config = TrainingConfig(output_dir=output_dir, epochs=3, batch_size=per_process_batch, learning_rate=1e-4,
                        show_progress=False, seed=0)
result = train(model, train_set, eval_set, collator=DataCollatorWithPadding(tokenizer),
               compute_metrics=classification_metrics, config=config)
if result.history is not None and "eval_accuracy" in result.history:
    rows = result.history.dropna(subset=["eval_accuracy"])
    with open(result_file, "w") as handle:
        json.dump({"final_train_loss": float(rows["train_loss"].iloc[-1]), "steps": result.steps,
                   "accuracy": result.final_metrics["accuracy"]}, handle)
