"""int8 quantization with torchao, saved and reloaded through transformers' TorchAoConfig.

Why torchao: torch 2.14 deprecates torch.ao.quantization (eager `quantize_dynamic` still runs, with a warning that
points to torchao), and transformers serialises torchao's quantized tensors into safetensors and restores them
on `from_pretrained` without quantizing again. Measured on this CPU (MiniLM-L6 QA, 384 tokens, 1 thread; see
benchmarks/compression_tradeoff.py): torchao dynamic int8 2.2x faster than fp32 with logits within 0.04, the
deprecated torch.ao path 3.1x faster but 7x further off (per-tensor weight scales).

Static int8 (activation scales fixed by calibration) is measured in the benchmark but not offered as a saved
model: torchao's Int8StaticActivationInt8WeightConfig holds its scale as a tensor, which transformers 5.24 cannot
write into config.json, and on this CPU it was no faster than dynamic int8 (2.1x vs 2.2x) while further off."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import torch

from shared.errors import OmnituneError
from shared.pretrained import TORCHAO_REQUIREMENT, load_kwargs


@dataclass(frozen=True)
class Scheme:
    description: str
    config_name: str  # a torchao config class


SCHEMES = {
    "dynamic-int8": Scheme(
        "int8 weights (one scale per output channel); activations quantized to int8 per token as each batch runs",
        "Int8DynamicActivationInt8WeightConfig",
    ),
    "weight-int8": Scheme(
        "int8 weights (one scale per output channel); activations and arithmetic stay fp32 "
        "(smaller, not faster on CPU)",
        "Int8WeightOnlyConfig",
    ),
}


@dataclass
class QuantizationReport:
    scheme: str
    description: str
    quantized_modules: list[str] = field(default_factory=list)
    fp32_modules: list[str] = field(default_factory=list)  # Linear/Embedding layers left as they were
    torchao_version: str = ""


def torchao_version() -> str:
    try:
        return version("torchao")
    except PackageNotFoundError:
        raise OmnituneError(
            "int8 quantization needs torchao, which is not installed", f"pip install {TORCHAO_REQUIREMENT}"
        ) from None


def quantize(model, scheme: str, skip: tuple[str, ...] = ()):
    """A new model of the same class with `scheme` applied to its Linear layers, ready for save_pretrained;
    returns (model, report). `skip` names modules to leave in fp32. Embeddings stay fp32: torchao 0.18's int8
    embedding tensors fail in BERT's embedding sum (aten.add_ is not implemented for them)."""
    if scheme not in SCHEMES:
        raise OmnituneError(f"unknown quantization scheme '{scheme}'", f"choose one of: {', '.join(SCHEMES)}")
    ao_version = torchao_version()
    import torchao.quantization
    from transformers import TorchAoConfig

    config = TorchAoConfig(
        getattr(torchao.quantization, SCHEMES[scheme].config_name)(), modules_to_not_convert=list(skip) or None
    )
    # through from_pretrained, the documented path: transformers then knows how to save the quantized tensors
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder, safe_serialization=True)
        quantized = type(model).from_pretrained(folder, quantization_config=config, **load_kwargs(False)).eval()
    report = QuantizationReport(scheme, SCHEMES[scheme].description, torchao_version=ao_version)
    for name, module in quantized.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            bucket = report.quantized_modules if is_quantized(module.weight) else report.fp32_modules
            bucket.append(name)
    if not report.quantized_modules:
        raise OmnituneError(
            f"{scheme} quantized no layer of this {type(model).__name__}",
            "the model has no Linear layer torchao can quantize; try pruning instead",
        )
    return quantized, report


def is_quantized(weight) -> bool:
    return type(weight).__module__.startswith("torchao")
