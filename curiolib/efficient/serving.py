"""Serving a fine-tuned classifier on a CPU: dynamic int8 quantisation, ONNX export, and how to measure them.

int8: `torch.ao.quantization.quantize_dynamic` stores every Linear weight in 8 bits and quantises the
activations on the fly, which is where BERT spends its time on a CPU. ONNX: the model is exported once
with `torch.onnx.export` and run by onnxruntime, whose graph optimisations fuse operators where
the exported graph allows it.
`OnnxClassifier` answers like a transformers model (``outputs.logits``), so `inference.classify` and the
widgets take it unchanged.
"""
from __future__ import annotations

import copy
import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with int8 dynamic quantisation of its Linear layers (CPU inference only)."""
    if hasattr(model, "peft_config"):
        raise ValueError("quantize a plain model, not a LoRA-wrapped one: fold the adapters in first, "
                         "model = merge_lora(model)")
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"dynamic int8 quantisation runs on the CPU only; the model is on {device}. "
                         "Move it first: model.to('cpu')")
    engines = [e for e in torch.backends.quantized.supported_engines if e in ("x86", "fbgemm", "qnnpack")]
    if not engines:
        raise ValueError("this PyTorch build has no quantised CPU engine (x86, fbgemm or qnnpack); "
                         f"it supports {torch.backends.quantized.supported_engines}")
    if torch.backends.quantized.engine not in engines:
        torch.backends.quantized.engine = engines[0]
    with warnings.catch_warnings():
        # torch 2.13 announces the quantised tensor types' future removal on every call; the lesson knows.
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8)


def export_onnx(model: torch.nn.Module, tokenizer, path: str | Path, *, opset: int = 17) -> Path:
    """Export a sequence or token classifier to ONNX, batch size and length left free; returns the file's path.

    A token classifier widened by `curiolib.data.casing.add_casing` exports as it is: its case ids are the
    ``token_type_ids`` input, which the caller fills (`tokenize_ner_dataset(casing=True)`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).to("cpu").eval()
    example = tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = [name for name in ONNX_INPUTS if name in example]
    with torch.no_grad():
        per_token = model(**example).logits.dim() == 3  # a token classifier: one row of logits per token
    axes = ({name: {0: "batch", 1: "length"} for name in names}
            | {"logits": {0: "batch", 1: "length"} if per_token else {0: "batch"}})
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python branches on shapes inside transformers' attention masking; the
        # exported graph is checked against the float model on varied lengths in the tests, so they are noise here.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        # The TorchScript exporter: one file, dynamic axes, and no extra packages beyond onnx.
        torch.onnx.export(model, tuple(example[name] for name in names), str(path), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=opset, dynamo=False)
    return path


def quantize_onnx(path: str | Path, output: str | Path | None = None, *, per_channel: bool = True,
                  reduce_range: bool = True, keep_float: tuple[str, ...] = (), overwrite: bool = False) -> Path:
    """int8 weights for an exported model's linear layers (onnxruntime dynamic quantisation); returns the new file.

    Only MatMuls with a weight operand are quantised (the attention products of two activations stay float),
    each weight with one scale per output channel when ``per_channel``, so a channel of large weights does not
    coarsen the rest. ``reduce_range`` keeps the weights to 7 bits: x86 CPUs without VNNI (AVX2, AVX-512 before
    Cascade Lake) multiply uint8 activations by int8 weights with an instruction (VPMADDUBSW) that adds each
    pair of products into a 16-bit sum, which clips (saturates) when both are large; with 7-bit weights the sum
    always fits. onnxruntime's quantizer says 7-bit weights may help there, especially per channel; a machine
    with VNNI may pass ``reduce_range=False``. Nodes whose name contains one of ``keep_float`` (e.g.
    ``"layer.5/output"``) stay float: the place for the layers whose rounding moves the answers most. Every
    Gemm of the graph stays float too: a sequence classifier's pooler and classifier, whose inputs are one
    vector per sentence (0.65 % of MiniLM's weights, and the classifier's rounding moves the answer directly);
    onnxruntime's quantizer would otherwise rewrite them as MatMuls and round them. A token classifier's head
    exports as a MatMul and is quantised unless named in ``keep_float``. An existing ``output`` is refused
    unless ``overwrite``.
    """
    import logging
    import os

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    output = Path(output) if output else path.with_name(path.stem + ".int8.onnx")
    if output.exists() and not overwrite:  # a file beside the user's model may be theirs, not ours
        raise FileExistsError(f"{output} exists: pass another output, or overwrite=True to replace it")
    nodes = onnx.load(str(path), load_external_data=False).graph.node
    names = [node.name for node in nodes]
    unknown = [key for key in keep_float if not any(key in name for name in names)]
    if unknown:
        raise ValueError(f"keep_float names no node of {path.name}: {unknown}; node names look like {names[:3]}")
    head = [node.name for node in nodes if node.op_type == "Gemm"]
    # The quantizer's MatMul for a Gemm is named after it: both names, so either onnxruntime's way keeps it float.
    excluded = [name for name in names if any(key in name for key in keep_float)] + head + [f"{name}_MatMul"
                                                                                         for name in head]
    partial = output.with_name(f".{output.name}.partial")
    root = logging.getLogger()
    level = root.level
    # onnxruntime logs a suggestion to pre-process (shape inference, graph fusion) on every call; the
    # measured model is quantised without it, and the lesson's output should not say otherwise.
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(path, partial, op_types_to_quantize=["MatMul"], per_channel=per_channel,
                         reduce_range=reduce_range, weight_type=QuantType.QInt8, nodes_to_exclude=excluded)
    finally:
        root.setLevel(level)
    os.replace(partial, output)  # a reader never finds half a model under the final name
    return output


class OnnxClassifier:
    """An exported classifier run by onnxruntime, answering like a transformers model (``.logits``)."""

    def __init__(self, path: str | Path, id2label: dict[int, str], *, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.config = SimpleNamespace(id2label=dict(id2label), num_labels=len(id2label))

    def eval(self) -> OnnxClassifier:
        """Nothing to switch: an exported graph is always in inference mode."""
        return self

    def parameters(self):
        """One empty CPU tensor, so code that asks a model for its device finds the CPU."""
        return iter([torch.zeros(0)])

    def __call__(self, **inputs) -> SimpleNamespace:
        """Logits for tokenizer outputs, as ``model(**inputs).logits`` would give them."""
        feed = {name: inputs[name].cpu().numpy().astype(np.int64) for name in self.input_names}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(["logits"], feed)[0]))


def model_size_mb(model: torch.nn.Module | str | Path) -> float:
    """Size of a model's saved weights in MB: a file or folder on disk, or a module's serialised state dict."""
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.exists():  # 0.0 MB for a mistyped path would pass for a real size
            raise FileNotFoundError(f"no file or folder {path} to measure")
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        return sum(f.stat().st_size for f in files) / 1e6
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


@dataclass(frozen=True)
class Latency:
    """One-at-a-time latency percentiles and batched throughput of a predictor."""

    p50_ms: float
    p95_ms: float
    sentences_per_s: float


def measure_latency(predict_one, predict_many, texts: list[str], *, batched: list[str] | None = None) -> Latency:
    """p50/p95 of ``predict_one(text)`` over ``texts`` (after a warm-up), and the speed of ``predict_many`` on
    ``batched`` (default: ``texts``): one-at-a-time timing on a sample, throughput on the whole set."""
    if not texts:
        raise ValueError("texts must hold at least one text to time")
    batched = texts if batched is None else batched
    predict_one(texts[0])
    times = []
    for text in texts:
        start = time.perf_counter()
        predict_one(text)
        times.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    predict_many(batched)
    return Latency(float(np.percentile(times, 50)), float(np.percentile(times, 95)),
                   len(batched) / (time.perf_counter() - start))


def agreement(labels_a: list[str] | np.ndarray, labels_b: list[str] | np.ndarray) -> float:
    """Share of inputs on which two predictors give the same label."""
    labels_a, labels_b = np.asarray(labels_a), np.asarray(labels_b)
    if labels_a.shape != labels_b.shape or not labels_a.size:
        raise ValueError(f"need two equally long, non-empty label lists, got {labels_a.shape} and {labels_b.shape}")
    return float(np.mean(labels_a == labels_b))
