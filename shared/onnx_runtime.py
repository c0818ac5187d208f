"""Models as ONNX graphs run by ONNX Runtime: export (torch.onnx's dynamo exporter: optimum's exporters need
transformers < 4.58, omnitune pins 5.x) and a runner that answers like the transformers model it came from, so
the harness, `predict`, the demos and the app use an exported model unchanged. Int8: `shared.onnx_quantization`.

An exported model folder holds model.onnx beside config.json and the processor's files."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from transformers.utils import ModelOutput

from shared.errors import OmnituneError

GRAPH = "model.onnx"
OPSET = 18


def is_exported(folder: str | Path) -> bool:
    return (Path(folder) / GRAPH).is_file()


def input_names(processor) -> set[str]:
    """What the processor makes for the model (not labels, offsets or ids): the graph's inputs."""
    return set(getattr(processor, "model_input_names", ()) or ()) or {"input_ids", "attention_mask", "pixel_values"}


def model_inputs(processor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a collated batch that are model inputs."""
    return {name: value for name, value in batch.items() if name in input_names(processor) and torch.is_tensor(value)}


def export(model, inputs: dict[str, torch.Tensor], path: Path) -> list[str]:
    """Write `model` as an ONNX graph taking `inputs` (by name; batch and sequence axes dynamic) and returning
    the tensors its forward returns by default, under their transformers names. Returns the output names."""
    model.eval()
    with torch.inference_mode():
        reference = model(**inputs)
    outputs = [name for name, value in reference.items() if torch.is_tensor(value)]
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence")
    shapes = {
        name: {0: batch} if value.ndim > 2 or value.is_floating_point() else {0: batch, 1: sequence}
        for name, value in inputs.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        program = torch.onnx.export(
            model,  # its ModelOutput flattens to the non-None fields in order: the names below
            (),
            kwargs=inputs,
            dynamic_shapes=shapes,
            input_names=list(inputs),
            output_names=outputs,
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    except Exception as error:  # the exporter's errors are long and internal; the architecture is what matters
        raise OmnituneError(
            f"torch.onnx could not export {type(model).__name__}: {str(error).splitlines()[0][:300]}",
            "export works for encoder models (question answering, token and image classification)",
        ) from None
    program.save(str(path))
    return outputs


class OnnxModel:
    """An exported model, called like the transformers model it came from (keyword tensors in, a ModelOutput
    of tensors out), with that model's config. Inference only."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        import onnxruntime
        from transformers import AutoConfig

        folder = Path(folder)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()  # the same threads as PyTorch uses
        self.session = onnxruntime.InferenceSession(str(folder / GRAPH), options, providers=["CPUExecutionProvider"])
        self.config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        self.name_or_path = str(folder)
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]
        self.device, self.dtype, self.training = torch.device("cpu"), torch.float32, False
        # code that asks the model's forward which inputs it takes (as Trainer and the benchmarks do) gets the
        # graph's input names
        self.forward = _with_signature(self.__call__, self.input_names)

    def __call__(self, **inputs) -> ModelOutput:
        feeds = {name: as_array(inputs[name]) for name in self.input_names if name in inputs}
        missing = [name for name in self.input_names if name not in feeds]
        if missing:
            raise OmnituneError(
                f"the exported model needs the inputs {', '.join(missing)}", "give them as the processor makes them"
            )
        values = self.session.run(self.output_names, feeds)
        return ModelOutput({name: torch.from_numpy(value) for name, value in zip(self.output_names, values)})

    def graph_parameters(self) -> int:
        """Weights in the graph (an int8 weight counts once, as its fp32 original did; quantization scales and
        zero points, and the exporter's scalar constants, are not weights)."""
        import onnx

        graph = onnx.load(str(Path(self.name_or_path) / GRAPH), load_external_data=False).graph
        kept = [t for t in graph.initializer if not t.name.endswith(("_scale", "_zero_point"))]
        return sum(int(np.prod(t.dims)) for t in kept if int(np.prod(t.dims)) > 1)

    def eval(self):
        return self

    def to(self, *args, **kwargs):
        return self

    def parameters(self):
        return iter(())

    def train(self, mode: bool = True):
        if mode:
            raise OmnituneError("an exported ONNX model cannot be trained", "fine-tune the run it was exported from")
        return self


def _with_signature(call, names: list[str]):
    def forward(**inputs):
        return call(**inputs)

    forward.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in names]
    )
    return forward


def as_array(value) -> np.ndarray:
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


def max_abs_diff(
    model, exported: OnnxModel, batches: Iterable[dict[str, torch.Tensor]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Largest absolute difference of each output between the PyTorch model and the exported one over batches
    (padded positions included, as both see them), and the largest absolute value of each PyTorch output (what
    the difference is measured against: float32 rounding grows with the values summed)."""
    worst: dict[str, float] = {}
    largest: dict[str, float] = {}
    with torch.inference_mode():
        for batch in batches:
            reference, answer = model(**batch), exported(**batch)
            for name in exported.output_names:
                expected = reference[name].float()
                diff = float((expected - answer[name].float()).abs().max())
                worst[name] = max(worst.get(name, 0.0), diff)
                largest[name] = max(largest.get(name, 0.0), float(expected.abs().max()))
    return worst, largest
