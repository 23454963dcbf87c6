"""Distillation: the student's layers come from the teacher's, the loss is the formula (checked against
autograd), and training on soft targets brings the student to the teacher."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import DataCollatorWithPadding

from curiolib.data import load_sentiment, tokenize_sentences
from curiolib.efficient.distill import distillation_loss, distillation_objective, student_from_teacher
from curiolib.finetune.loop import TrainingConfig, predict, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks import classification_metrics

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def teacher():
    return load_model_for_task("minilm", "sentiment", LABELS, seed=0)


def test_the_student_starts_with_every_other_teacher_layer(teacher, tmp_path) -> None:
    tokenizer, model = teacher
    student = student_from_teacher(model)
    assert student.config.num_hidden_layers == 3 and len(model.bert.encoder.layer) == 6  # the teacher is untouched
    for kept, source in zip(student.bert.encoder.layer, (0, 2, 4)):
        for (name, value), (_, original) in zip(kept.state_dict().items(),
                                                model.bert.encoder.layer[source].state_dict().items()):
            assert torch.equal(value, original), f"student layer from {source}: {name} differs"
    for part in ("bert.embeddings.word_embeddings.weight", "classifier.weight", "bert.pooler.dense.weight"):
        assert torch.equal(student.state_dict()[part], model.state_dict()[part])
    top = student_from_teacher(model, layers=[3, 4, 5])
    assert torch.equal(top.bert.encoder.layer[0].output.dense.weight, model.bert.encoder.layer[3].output.dense.weight)
    student.save_pretrained(tmp_path / "student")
    tokenizer.save_pretrained(tmp_path / "student")
    _, again = load_model_for_task(str(tmp_path / "student"), "sentiment", LABELS)
    inputs = tokenizer(["a fine film", "dull"], padding=True, return_tensors="pt")
    student.eval()
    with torch.no_grad():
        assert len(again.bert.encoder.layer) == 3
        assert torch.allclose(again(**inputs).logits, student(**inputs).logits, atol=1e-6)
    for bad in ([], [0, 0, 2], [4, 2], [0, 6], [-1, 2]):
        with pytest.raises(ValueError, match="layers must be distinct increasing"):
            student_from_teacher(model, layers=bad)


def test_the_distillation_loss_is_the_formula_and_its_gradient_is_autograds() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(5, 3, requires_grad=True), torch.randn(5, 3)
    labels = torch.tensor([0, 2, 1, 1, 0])
    T, alpha = 3.0, 0.25
    p_teacher, log_p_student = (teacher / T).softmax(-1), (student / T).log_softmax(-1)
    by_hand = (alpha * F.cross_entropy(student, labels)
               + (1 - alpha) * T ** 2 * (p_teacher * (p_teacher.log() - log_p_student)).sum(-1).mean())
    loss = distillation_loss(student, teacher, labels, temperature=T, alpha=alpha)
    assert torch.allclose(loss, by_hand, atol=1e-6)
    # The soft term's gradient, T·(p_student − p_teacher)/batch: why the T² keeps it on the cross-entropy's scale.
    (gradient,) = torch.autograd.grad(distillation_loss(student, teacher, labels, temperature=T, alpha=0.0), student)
    expected = T * ((student / T).softmax(-1) - p_teacher) / len(labels)
    print(f"soft-target gradient against autograd, within 1e-6: {torch.allclose(gradient, expected, atol=1e-6)}")
    assert torch.allclose(gradient, expected, atol=1e-6)
    same = distillation_loss(teacher, teacher, labels, temperature=T, alpha=0.0)
    assert abs(float(same)) < 1e-6, "a student equal to its teacher has nothing left to learn from it"
    with pytest.raises(ValueError, match="temperature"):
        distillation_objective(torch.nn.Linear(2, 2), temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        distillation_objective(torch.nn.Linear(2, 2), alpha=1.5)


@pytest.mark.slow
def test_training_on_soft_targets_brings_the_student_to_its_teacher(teacher, tmp_path) -> None:
    tokenizer, model = teacher
    model = copy.deepcopy(model)
    with torch.no_grad():  # a confident head that no label taught: only distillation can match its answers
        model.classifier.weight.mul_(100)
    data = tokenize_sentences(load_sentiment(verbose=False)["train"].select(range(64)), tokenizer, max_length=64)
    collator = DataCollatorWithPadding(tokenizer)
    teacher_logits, _ = predict(model, data, collator)
    student = student_from_teacher(model)

    def gap() -> float:
        student_logits, _ = predict(student, data, collator)
        return float(F.kl_div(torch.tensor(student_logits).log_softmax(-1),
                              torch.tensor(teacher_logits).log_softmax(-1), reduction="batchmean", log_target=True))

    before, teacher_weights = gap(), {name: value.clone() for name, value in model.state_dict().items()}
    config = TrainingConfig(output_dir=str(tmp_path / "distil"), epochs=10, batch_size=16, learning_rate=1e-4,
                            show_progress=False, save_checkpoints=False, load_best_at_end=False)
    train(student, data, data.select(range(8)), collator=collator,
          compute_metrics=classification_metrics,
          config=config, compute_loss=distillation_objective(model, temperature=2.0, alpha=0.0))
    assert gap() < 0.5 * before, f"KL(teacher ‖ student) went from {before:.4f} to {gap():.4f}"
    assert all(torch.equal(value, teacher_weights[name]) for name, value in model.state_dict().items()), \
        "training the student must leave the teacher as it was"
