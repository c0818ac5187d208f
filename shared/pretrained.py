"""Resolve what a user names as a model (shelf entry, run folder, save_pretrained folder, Hub id) into a path or
id that transformers can load, with omnitune's safety defaults: safetensors only, no remote code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared import run_dir as layout
from shared import shelf, shelf_catalogue  # noqa: F401  (registers the shared entries)
from shared.errors import OmnituneError

PICKLED_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "model.ckpt.index", "flax_model.msgpack")
SAFE_LOAD_KWARGS = {"trust_remote_code": False}
TORCHAO_REQUIREMENT = "torchao==0.18.0"  # what `omnitune compress --quantize` writes int8 models with


def resolve(name_or_path: str, allow_pickle: bool = False, log=print) -> str:
    """A loadable location for `name_or_path`; prepares a shelf entry on first use."""
    if name_or_path in shelf.SHELF:
        if not shelf.is_prepared(name_or_path):
            log(f"preparing offline shelf entry '{name_or_path}' (once)...")
        return str(shelf.prepare(name_or_path, log=log))
    path = Path(name_or_path).expanduser()
    if path.exists():
        folder = _model_folder(path)
        _check_weights(folder, allow_pickle)
        _check_quantization_runtime(folder)
        return str(folder)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise OmnituneError(
            f"model folder {name_or_path} does not exist",
            "give a save_pretrained folder, a run folder, a shelf entry (omnitune models list) or a Hub id",
        )
    return name_or_path  # a Hub id: transformers fetches it (or finds it in the HF cache)


def _model_folder(path: Path) -> Path:
    """Accept a run folder (its final model lives in model/) as well as a save_pretrained folder."""
    folder = layout.model_folder(path)
    if folder is None:
        raise OmnituneError(
            f"{path} holds no model (no config.json in it or in {path / layout.MODEL})",
            "point --model at a save_pretrained folder or an omnitune run folder",
        )
    return folder


def _check_weights(folder: Path, allow_pickle: bool) -> None:
    if any(folder.glob("*.safetensors")):
        return
    pickled = [name for name in PICKLED_WEIGHTS if (folder / name).exists()]
    if pickled and not allow_pickle:
        raise OmnituneError(
            f"{folder} has only pickled weights ({', '.join(pickled)}), which can run arbitrary code when loaded",
            "convert them to safetensors, or pass --allow_pickle true if you trust the source",
        )


def _check_quantization_runtime(folder: Path) -> None:
    """A clear refusal, before transformers' own error, when an int8 model (omnitune compress) meets a runtime
    without the torchao that wrote it."""
    import json
    from importlib.metadata import PackageNotFoundError, version

    config = json.loads((folder / "config.json").read_text())
    if (config.get("quantization_config") or {}).get("quant_method") != "torchao":
        return
    try:
        installed = version("torchao")
    except PackageNotFoundError:
        raise OmnituneError(
            f"{folder} holds an int8 model quantized with torchao, which is not installed",
            f"pip install {TORCHAO_REQUIREMENT}, or use the unquantized parent model",
        ) from None
    saved = (config.get("omnitune_compression") or {}).get("torchao_version")
    if saved and saved.split(".")[:2] != installed.split(".")[:2]:
        raise OmnituneError(
            f"{folder} was quantized with torchao {saved}; this runtime has {installed}, whose "
            "int8 tensor format may differ",
            f"pip install torchao=={saved}, or compress the parent model again here",
        )


def load_kwargs(allow_pickle: bool) -> dict:
    return {**SAFE_LOAD_KWARGS, "use_safetensors": None if allow_pickle else True}


def load_noting_fresh_weights(auto_class: Any, path: str, **kwargs: Any) -> tuple[Any, tuple[str, ...]]:
    """`auto_class.from_pretrained`, and the names of the weights the checkpoint did not hold or held in another
    shape (a new head, initialised at random). A folder `omnitune export` wrote is run by ONNX Runtime."""
    from shared.onnx_runtime import OnnxModel, is_exported

    if is_exported(path):
        return OnnxModel(path), ()
    model, info = auto_class.from_pretrained(path, output_loading_info=True, **kwargs)
    fresh = sorted(info.get("missing_keys", ())) + sorted(key for key, *_ in info.get("mismatched_keys", ()))
    return model, tuple(fresh)


def hub_failure(name: str, error: Exception) -> OmnituneError:
    return OmnituneError(
        f"could not load model '{name}': {type(error).__name__}: {str(error).splitlines()[0][:300]}",
        "offline? use a shelf entry (omnitune models list) or a local folder; online, check the Hub id",
    )


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop", "attention_dropout_prob")


def config_overrides(model_path: str, attention_dropout: float | None) -> dict:
    """Keyword overrides for from_pretrained that set attention dropout under whatever name the architecture uses."""
    if attention_dropout is None:
        return {}
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
    return {key: attention_dropout for key in ATTENTION_DROPOUT_KEYS if hasattr(config, key)}
