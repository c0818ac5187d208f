"""Int8 for exported ONNX graphs, by ONNX Runtime's quantizer: dynamic (int8 weights, activations quantized per
batch; no data needed) and static (activation ranges calibrated on real examples; QDQ, per-channel weights).

The static scheme is the one that measured best on this stack (the default QA model, 785 test questions,
2-core AVX2 CPU without VNNI; a fine-tuned EfficientNet-Lite0; README "Export to ONNX"): int8 everywhere it was
tried cost 1.7 F1 and ran slower than PyTorch; what follows keeps the F1 within 0.2 and Lite0 within 0.4 points.
- Activations unsigned (uint8) with 7-bit weights (`reduce_range`): signed activations left most matrix products
  as fp32 MatMuls fed by DequantizeLinear (ONNX Runtime fuses a QDQ MatMul into QLinearMatMul only for u8
  activations on this CPU), and u8 x s8 products saturate on AVX2 without VNNI unless the weights use 7 bits.
- Products of two activations (attention scores, attention x values) stay fp32: their ranges change with every
  input, so a calibrated scale fits none of them well.
- Products fed by the feed-forward activation (GELU's output: a long tail a single int8 scale cannot hold) are
  quantized dynamically instead, so their scale follows each input (-1.7 F1 calibrated, -0.04 dynamic).
- The output layer stays fp32: a fine-tuned head can hold a few weights a thousand times the others (Lite0's
  reach 48 where the median is 0.04), which leaves a per-channel int8 scale no step for the rest (Lite0's head
  alone in int8 changed 74% of its answers; QA's span head costs nothing to keep).
- In convolutional networks the stem (raw pixels in) and the depthwise convolutions (nine weights per channel)
  stay fp32, as is usual for MobileNet-style networks: quantized they changed 8% more of Lite0's answers, and
  the pointwise convolutions, where the work is, stay int8.
Calibration batches are padded to one shape (attention masks keep the padding out of the model's answer):
ONNX Runtime's histogram calibrators (entropy, percentile) need every batch the same shape."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from shared.errors import OmnituneError
from shared.onnx_runtime import as_array

CalibrationMethod = Literal["minmax", "entropy", "percentile"]
STATIC_OPS = ["MatMul", "Gemm", "Conv"]
# what an activation function's output looks like in an exported graph: fused ops, or the decomposed
# GELU x * 0.5 * (1 + erf(x / sqrt 2)) whose last node is a Mul
ACTIVATION_OPS = {"Gelu", "FastGelu", "BiasGelu", "QuickGelu"}
ACTIVATION_MARKERS = {"Erf", "Tanh"}
LAYOUT_OPS = {"Pad", "Transpose", "Cast", "Reshape", "Identity"}


def quantize_dynamic(source: Path, target: Path) -> dict:
    """int8 weights, activations quantized on the fly per batch: needs no calibration data."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    ort_quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    return {"scheme": "dynamic: int8 per-channel weights, uint8 activations quantized per batch"}


def quantize_static(
    source: Path, target: Path, batches: Iterable[dict[str, torch.Tensor]], method: CalibrationMethod = "minmax"
) -> dict:
    """Static int8 as the module's docstring says; returns what was done (for export.json and the card)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType
    from onnxruntime.quantization import CalibrationMethod as OrtMethod
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic
    from onnxruntime.quantization import quantize_static as ort_quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    feeds = same_shape([{name: as_array(value) for name, value in batch.items()} for batch in batches])
    if not feeds:
        raise OmnituneError("static quantization needs calibration examples", "give --calibration_examples 128")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.pending = iter(feeds)

        def get_next(self):
            return next(self.pending, None)

    prepared = target.with_name("prepared.onnx")
    calibrated = target.with_name("calibrated.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)  # what ORT advises before static
    roles = fragile_nodes(onnx.load(str(prepared), load_external_data=False).graph)
    after_activation = roles.pop("after_activation")
    methods = {"minmax": OrtMethod.MinMax, "entropy": OrtMethod.Entropy, "percentile": OrtMethod.Percentile}
    try:
        ort_quantize_static(
            str(prepared),
            str(calibrated if after_activation else target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            # weights' products only (adds, softmax and the attention mask's -3.4e38 fill quantized made every
            # answer "no answer": F1 16, measured)
            op_types_to_quantize=STATIC_OPS,
            nodes_to_exclude=[name for names in roles.values() for name in names] + after_activation,
        )
        if after_activation:
            quiet = logging.getLogger()  # the dynamic quantizer warns that the graph is already quantized: it is,
            level, quiet.level = quiet.level, logging.ERROR  # on purpose, everywhere but these nodes
            try:
                ort_quantize_dynamic(
                    str(calibrated),
                    str(target),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    nodes_to_quantize=after_activation,
                )
            finally:
                quiet.setLevel(level)
    finally:
        prepared.unlink(missing_ok=True)
        calibrated.unlink(missing_ok=True)
    return {
        "scheme": f"static QDQ: uint8 activations ({method}-calibrated), int8 per-channel 7-bit weights",
        "dynamic_after_activation": len(after_activation),
        **{f"fp32_{reason}": len(names) for reason, names in roles.items()},
    }


def fragile_nodes(graph) -> dict[str, list[str]]:
    """Names of the weight products static int8 leaves alone, by reason (the module's docstring says why), and
    the GELU-fed products it quantizes dynamically instead ("after_activation")."""
    constants = {tensor.name for tensor in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    producer = {out: node for node in graph.node for out in node.output}
    inputs = {tensor.name for tensor in graph.input}

    def made_by_activation(tensor: str) -> bool:
        node = producer.get(tensor)
        if node is None:
            return False
        if node.op_type in ACTIVATION_OPS:
            return True
        # a Mul closing a decomposed GELU: an Erf or Tanh among its inputs' makers, three nodes up at most
        frontier, depth = [node], 0
        while frontier and depth < 3 and node.op_type == "Mul":
            frontier = [producer[i] for n in frontier for i in n.input if i in producer]
            if any(n.op_type in ACTIVATION_MARKERS for n in frontier):
                return True
            depth += 1
        return False

    def reads_graph_input(tensor: str) -> bool:  # directly, or through padding and layout changes
        node = producer.get(tensor)
        while node is not None and node.op_type in LAYOUT_OPS:
            tensor, node = node.input[0], producer.get(node.input[0])
        return tensor in inputs

    def output_layers() -> list[str]:  # the products nearest each graph output (through adds, reshapes, splits)
        found, seen = [], set()
        frontier = [producer[o.name] for o in graph.output if o.name in producer]
        while frontier:
            node = frontier.pop()
            if node.name in seen:
                continue
            seen.add(node.name)
            if node.op_type in STATIC_OPS:
                found.append(node.name)
            else:
                frontier += [producer[i] for i in node.input if i in producer]
        return found

    roles: dict[str, list[str]] = {
        "between_activations": [],
        "after_activation": [],
        "output_layer": output_layers(),
        "stem": [],
        "depthwise": [],
    }
    for node in graph.node:
        if node.name in roles["output_layer"]:
            continue
        if node.op_type == "Conv":
            if reads_graph_input(node.input[0]):
                roles["stem"].append(node.name)
            elif any(attribute.name == "group" and attribute.i > 1 for attribute in node.attribute):
                roles["depthwise"].append(node.name)
        elif node.op_type in ("MatMul", "Gemm"):
            if not any(name in constants for name in node.input[:2]):
                roles["between_activations"].append(node.name)
            elif made_by_activation(node.input[0]):
                roles["after_activation"].append(node.name)
    return roles


def same_shape(feeds: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Calibration batches zero-padded to the largest shape seen for each input (mask and ids 0: padding)."""
    if not feeds:
        return feeds
    largest = {name: np.max([feed[name].shape for feed in feeds], axis=0) for name in feeds[0]}
    return [
        {
            name: np.pad(value, [(0, int(size) - have) for size, have in zip(largest[name], value.shape)])
            for name, value in feed.items()
        }
        for feed in feeds
    ]
