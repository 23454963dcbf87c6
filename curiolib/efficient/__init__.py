"""Lesson 06: efficient fine-tuning, each method measured against the full model.

`lora`: LoRA through peft; `serving`: int8 and ONNX, latency, size; `comparison`: methods side by side;
`padding`: dynamic padding against the pad-to-512 habit (shown in lesson 03); `distill`: a shallower student
trained on the fine-tuned model's soft targets.
"""
from .comparison import (FINE_TUNERS, METHODS, FineTuneSettings, MethodResult, compare_serving, fine_tune_distilled,
                         fine_tune_full, fine_tune_head, fine_tune_lora, measure_training_memory,
                         training_memory_mb)
from .distill import distillation_loss, distillation_objective, student_from_teacher
from .lora import (ALL_LINEAR, add_lora, count_parameters, freeze_encoder, load_adapter, lora_config,
                   lora_parameter_count, merge_lora, save_adapter)
from .padding import PaddingComparison, compare_padding
from .serving import (OnnxClassifier, agreement, export_onnx, measure_latency, model_size_mb, quantize_int8,
                      quantize_onnx)

__all__ = ["ALL_LINEAR", "FINE_TUNERS", "METHODS", "add_lora", "agreement", "compare_padding", "compare_serving",
           "count_parameters", "distillation_loss", "distillation_objective", "export_onnx", "fine_tune_distilled",
           "fine_tune_full", "fine_tune_head", "fine_tune_lora", "FineTuneSettings",
           "freeze_encoder", "load_adapter", "lora_config", "lora_parameter_count", "measure_latency",
           "measure_training_memory", "merge_lora", "MethodResult", "model_size_mb", "OnnxClassifier",
           "PaddingComparison", "quantize_int8", "quantize_onnx", "save_adapter", "student_from_teacher",
           "training_memory_mb"]
