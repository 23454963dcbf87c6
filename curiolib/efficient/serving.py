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
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from .._files import writing_atomically

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Keys of the ONNX file's metadata_props: the label of each logit, as the model's config names them (an ONNX
# graph has no config), and a mark that export_onnx wrote the file, so that a rerun may replace it.
LABELS_KEY = "id2label"


def _check_model_path(path: Path, parameter: str) -> None:
    if not path.exists():
        raise ValueError(f"{parameter}={str(path)!r} names no file: give the path of an exported .onnx model "
                         "(export_onnx writes one)")
    if path.is_dir():
        raise ValueError(f"{parameter}={str(path)!r} is not an ONNX model but a folder: give the path of a .onnx file")


def _load_onnx(path: Path, parameter: str = "path"):
    """The ONNX model in ``path`` (external weights left on disk), or a one-line ValueError saying it is not one."""
    import onnx
    from google.protobuf.message import DecodeError

    _check_model_path(path, parameter)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError):
        model = None
    # An empty file parses as an empty model: no graph, no operator set.
    if model is None or not model.graph.node or not model.opset_import:
        raise ValueError(f"{parameter}={str(path)!r} is not an ONNX model (a damaged or cut-short file, or another "
                         "format): export the model again with export_onnx")
    return model


def _metadata(model) -> dict[str, str]:
    return {entry.key: entry.value for entry in model.metadata_props}


def _check_new_file(path: Path, parameter: str) -> None:
    """ValueError naming ``parameter`` when ``path`` is a folder or lies below a file, before any work."""
    if path.is_dir():
        raise ValueError(f"{parameter}={str(path)!r} is a folder: name the file to write in it, e.g. "
                         f"{str(path / 'model.onnx')!r}")
    above = next((folder for folder in path.parents if folder.exists()), None)
    if above is not None and not above.is_dir():
        raise ValueError(f"{parameter}={str(path)!r} lies below {str(above)!r}, which is a file, not a folder: "
                         "choose another path")


def _labels_from(mapping, where: str) -> dict[int, str]:
    """``mapping`` as {0: label, 1: label, ...}, or ValueError saying what ``where`` holds instead."""
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(f"{where} must map each logit's index to its label, e.g. {{0: 'negative', 1: 'positive'}}; "
                         f"got {mapping!r}")
    try:
        labels = {int(key): value for key, value in mapping.items()}
    except (TypeError, ValueError):
        labels = {}
    if sorted(labels) != list(range(len(mapping))) or not all(isinstance(v, str) and v for v in labels.values()):
        raise ValueError(f"{where} keys must be the logits' indices 0..{len(mapping) - 1}, each with a label (a "
                         f"non-empty text); got {mapping!r}")
    return dict(sorted(labels.items()))


def _named_labels(model: torch.nn.Module) -> dict[int, str] | None:
    """The model's config.id2label, or None when it names no labels (transformers' LABEL_0, LABEL_1, ...)."""
    id2label = getattr(getattr(model, "config", None), "id2label", None)
    if not id2label:
        return None
    labels = _labels_from(dict(id2label), "model.config.id2label")
    return None if all(label == f"LABEL_{i}" for i, label in labels.items()) else labels


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


def export_onnx(model: torch.nn.Module, tokenizer, path: str | Path, *, opset: int = 17,
                overwrite: bool = False) -> Path:
    """Export a sequence or token classifier to ONNX, batch size and length left free; returns the file's path.

    The file's metadata keeps the model's ``config.id2label``, which `OnnxClassifier` reads and checks. An existing
    ``path`` is refused unless ``overwrite``. The file is written under a temporary name and moved into place, so an
    export that fails leaves what was there. A token classifier widened by `curiolib.data.casing.add_casing` exports
    as it is: its case ids are the ``token_type_ids`` input, which the caller fills
    (`tokenize_ner_dataset(casing=True)`).
    """
    import onnx

    path = Path(path)
    _check_new_file(path, "path")
    # A mark inside the file would travel with its copies, so no file is taken for export_onnx's own: an
    # existing one is replaced only when asked (compare_serving asks, in a work folder it has claimed).
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"path={str(path)!r} exists: pass another path, or overwrite=True to replace it")
    labels = _named_labels(model)
    model = copy.deepcopy(model).to("cpu").eval()
    example = tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = [name for name in ONNX_INPUTS if name in example]
    with torch.no_grad():
        logits = model(**example).logits
    per_token = logits.dim() == 3  # a token classifier: one row of logits per token
    if labels is not None and len(labels) != logits.shape[-1]:
        raise ValueError(f"model.config.id2label names {len(labels)} labels but the model gives {logits.shape[-1]} "
                         "logits: set model.config.id2label to one label per logit")
    axes = ({name: {0: "batch", 1: "length"} for name in names}
            | {"logits": {0: "batch", 1: "length"} if per_token else {0: "batch"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name: a reader never finds half a model under the final name.
    with writing_atomically(path) as partial:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about Python branches on shapes inside transformers' attention masking; the exported
            # graph is checked against the float model on varied lengths in the tests, so they are noise here.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
            # The TorchScript exporter: one file, dynamic axes, and no extra packages beyond onnx.
            torch.onnx.export(model, tuple(example[name] for name in names), str(partial), input_names=names,
                              output_names=["logits"], dynamic_axes=axes, opset_version=opset, dynamo=False)
        exported = onnx.load(str(partial))
        metadata = {LABELS_KEY: json.dumps(labels)} if labels is not None else {}
        onnx.helper.set_model_props(exported, _metadata(exported) | metadata)
        onnx.save(exported, str(partial))
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
    unless ``overwrite``; a ``path`` that holds no ONNX model is refused before any work. The labels
    `export_onnx` stored go into the new file.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    source = _load_onnx(path)
    output = Path(output) if output else path.with_name(path.stem + ".int8.onnx")
    _check_new_file(output, "output")
    if output.exists() and not overwrite:  # a file beside the user's model may be theirs, not ours
        raise FileExistsError(f"output={str(output)!r} exists: pass another output, or overwrite=True to replace it")
    nodes = source.graph.node
    names = [node.name for node in nodes]
    unknown = [key for key in keep_float if not any(key in name for name in names)]
    if unknown:
        raise ValueError(f"keep_float names no node of {path.name}: {unknown}; node names look like {names[:3]}")
    head = [node.name for node in nodes if node.op_type == "Gemm"]
    # The quantizer's MatMul for a Gemm is named after it: both names, so either onnxruntime's way keeps it float.
    excluded = [name for name in names if any(key in name for key in keep_float)] + head + [f"{name}_MatMul"
                                                                                         for name in head]
    root = logging.getLogger()
    level = root.level
    # onnxruntime logs a suggestion to pre-process (shape inference, graph fusion) on every call; the
    # measured model is quantised without it, and the lesson's output should not say otherwise.
    root.setLevel(logging.ERROR)
    try:  # under a temporary name: a reader never finds half a model under the final name
        with writing_atomically(output) as partial:
            quantize_dynamic(path, partial, op_types_to_quantize=["MatMul"], per_channel=per_channel,
                             reduce_range=reduce_range, weight_type=QuantType.QInt8, nodes_to_exclude=excluded)
            # The labels (and export_onnx's mark) go with the weights; onnxruntime keeps them today, and is not
            # obliged to.
            carried = {key: value for key, value in _metadata(source).items() if key == LABELS_KEY}
            quantized = onnx.load(str(partial), load_external_data=False)
            if any(_metadata(quantized).get(key) != value for key, value in carried.items()):
                onnx.helper.set_model_props(quantized, _metadata(quantized) | carried)
                onnx.save(quantized, str(partial))
    finally:
        root.setLevel(level)
    return output


class OnnxClassifier:
    """An exported classifier run by onnxruntime, answering like a transformers model (``.logits``).

    The labels are those export_onnx stored in the file; ``id2label``, when given, must be the same, in the same
    order. A file exported elsewhere stores none: then ``id2label`` names them, one per logit.
    """

    def __init__(self, path: str | Path, id2label: dict[int, str] | None = None, *,
                 threads: int | None = None) -> None:
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, InvalidGraph, InvalidProtobuf

        self.path = Path(path)
        _check_model_path(self.path, "path")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except (Fail, InvalidArgument, InvalidGraph, InvalidProtobuf) as error:  # Fail: older onnxruntime, no graph
            # onnxruntime's text repeats the path ("... Load model from <path> failed:<why>"): keep the why.
            reason = str(error).splitlines()[0].rpartition("failed:")[2].strip() or type(error).__name__
            raise ValueError(f"path={str(path)!r} is not an ONNX model onnxruntime can load ({reason}): export the "
                             "model again with export_onnx") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        stored = self._stored_labels()
        outputs = self.session.get_outputs()
        shape = next((o.shape for o in outputs if o.name == "logits"), outputs[0].shape)
        # A named axis (or none) says nothing of the width: the first call checks it instead.
        width = shape[-1] if shape and isinstance(shape[-1], int) else None
        labels = _labels_from(id2label, "id2label") if id2label is not None else stored
        if labels is None:
            raise ValueError(f"{self.path} stores no labels: pass id2label, one label per logit in the order the "
                             "model was trained with, e.g. {0: 'negative', 1: 'positive'}")
        if width is not None and len(labels) != width:
            named = (f"id2label names {len(labels)} label{'s' * (len(labels) != 1)}" if id2label is not None
                     else f"{self.path.name} stores {len(labels)} labels")
            raise ValueError(f"{named} but {self.path.name} gives {width} logits: pass id2label, one label per logit")
        if stored is not None and labels != stored:
            raise ValueError(f"id2label={list(labels.values())} does not match the labels stored in {self.path.name} "
                             f"at export, {list(stored.values())} (in that order): pass those, or leave id2label "
                             "out to use them")
        self.config = SimpleNamespace(id2label=labels, num_labels=len(labels))

    def _stored_labels(self) -> dict[int, str] | None:
        stored = self.session.get_modelmeta().custom_metadata_map.get(LABELS_KEY)
        if stored is None:
            return None
        try:
            mapping = json.loads(stored)
        except json.JSONDecodeError:
            mapping = stored
        return _labels_from(mapping, f"the id2label stored in {self.path}")

    def eval(self) -> OnnxClassifier:
        """Nothing to switch: an exported graph is always in inference mode."""
        return self

    def parameters(self):
        """One empty CPU tensor, so code that asks a model for its device finds the CPU."""
        return iter([torch.zeros(0)])

    def __call__(self, **inputs) -> SimpleNamespace:
        """Logits for tokenizer outputs, as ``model(**inputs).logits`` would give them."""
        feed = {name: inputs[name].cpu().numpy().astype(np.int64) for name in self.input_names}
        logits = torch.from_numpy(self.session.run(["logits"], feed)[0])
        if logits.shape[-1] != self.config.num_labels:  # a file whose output width is not fixed in its graph
            raise ValueError(f"{self.path.name} gives {logits.shape[-1]} logits but id2label names "
                             f"{self.config.num_labels} labels: pass one label per logit")
        return SimpleNamespace(logits=logits)


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
