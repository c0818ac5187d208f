"""CTranslate2 -> transformers Whisper conversion on a tiny random model: every weight lands where it belongs."""

from __future__ import annotations

import struct

import numpy as np
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration

from shared.converters.ctranslate2 import read_variables
from shared.converters.whisper import state_dict


def _write_ctranslate2(path, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> None:
    """The binary layout CTranslate2 writes (float32 variables only)."""

    def string(text: str) -> bytes:
        data = text.encode() + b"\0"
        return struct.pack("<H", len(data)) + data

    with open(path, "wb") as handle:
        handle.write(struct.pack("<I", 6) + string("WhisperSpec") + struct.pack("<I", 3))
        handle.write(struct.pack("<I", len(variables)))
        for name, array in variables.items():
            array = np.ascontiguousarray(array, dtype=np.float32)
            handle.write(string(name) + bytes([array.ndim]) + struct.pack(f"<{array.ndim}I", *array.shape))
            handle.write(bytes([0]) + struct.pack("<I", array.nbytes) + array.tobytes())
        handle.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            handle.write(string(alias) + string(target))


def _to_ctranslate2(model: WhisperForConditionalGeneration) -> dict[str, np.ndarray]:
    """The inverse of the converter's mapping, written independently from the layout description."""
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    out = {
        "encoder/conv1/weight": sd["model.encoder.conv1.weight"],
        "encoder/conv1/bias": sd["model.encoder.conv1.bias"],
        "encoder/conv2/weight": sd["model.encoder.conv2.weight"],
        "encoder/conv2/bias": sd["model.encoder.conv2.bias"],
        "decoder/embeddings/weight": sd["model.decoder.embed_tokens.weight"],
    }
    for side in ("encoder", "decoder"):
        hf = f"model.{side}"
        out[f"{side}/position_encodings/encodings"] = sd[f"{hf}.embed_positions.weight"]
        out[f"{side}/layer_norm/gamma"], out[f"{side}/layer_norm/beta"] = (
            sd[f"{hf}.layer_norm.weight"],
            sd[f"{hf}.layer_norm.bias"],
        )
        for n in range(model.config.encoder_layers if side == "encoder" else model.config.decoder_layers):
            h, c = f"{hf}.layers.{n}", f"{side}/layer_{n}"
            attn = f"{h}.self_attn"
            out[f"{c}/self_attention/linear_0/weight"] = np.concatenate([sd[f"{attn}.{p}_proj.weight"] for p in "qkv"])
            out[f"{c}/self_attention/linear_0/bias"] = np.concatenate(
                [sd[f"{attn}.q_proj.bias"], np.zeros_like(sd[f"{attn}.q_proj.bias"]), sd[f"{attn}.v_proj.bias"]]
            )
            out[f"{c}/self_attention/linear_1/weight"] = sd[f"{attn}.out_proj.weight"]
            out[f"{c}/self_attention/linear_1/bias"] = sd[f"{attn}.out_proj.bias"]
            for ct, name in (
                ("self_attention/layer_norm", "self_attn_layer_norm"),
                ("ffn/layer_norm", "final_layer_norm"),
            ):
                out[f"{c}/{ct}/gamma"], out[f"{c}/{ct}/beta"] = sd[f"{h}.{name}.weight"], sd[f"{h}.{name}.bias"]
            for ct, name in (("ffn/linear_0", "fc1"), ("ffn/linear_1", "fc2")):
                out[f"{c}/{ct}/weight"], out[f"{c}/{ct}/bias"] = sd[f"{h}.{name}.weight"], sd[f"{h}.{name}.bias"]
            if side == "decoder":
                cross = f"{h}.encoder_attn"
                out[f"{c}/attention/linear_0/weight"] = sd[f"{cross}.q_proj.weight"]
                out[f"{c}/attention/linear_0/bias"] = sd[f"{cross}.q_proj.bias"]
                out[f"{c}/attention/linear_1/weight"] = np.concatenate(
                    [sd[f"{cross}.k_proj.weight"], sd[f"{cross}.v_proj.weight"]]
                )
                out[f"{c}/attention/linear_1/bias"] = np.concatenate(
                    [np.zeros_like(sd[f"{cross}.v_proj.bias"]), sd[f"{cross}.v_proj.bias"]]
                )
                out[f"{c}/attention/linear_2/weight"] = sd[f"{cross}.out_proj.weight"]
                out[f"{c}/attention/linear_2/bias"] = sd[f"{cross}.out_proj.bias"]
                out[f"{c}/attention/layer_norm/gamma"] = sd[f"{h}.encoder_attn_layer_norm.weight"]
                out[f"{c}/attention/layer_norm/beta"] = sd[f"{h}.encoder_attn_layer_norm.bias"]
    return out


def test_every_weight_survives_the_round_trip_and_outputs_match(tmp_path):
    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=120,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=1,
        decoder_attention_heads=1,
        encoder_ffn_dim=96,
        decoder_ffn_dim=96,
        num_mel_bins=16,
        max_source_positions=30,
        max_target_positions=20,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=1,
        decoder_start_token_id=2,
    )
    original = WhisperForConditionalGeneration(config).eval()
    _write_ctranslate2(
        tmp_path / "model.bin", _to_ctranslate2(original), {"decoder/projection/weight": "decoder/embeddings/weight"}
    )
    variables = read_variables(tmp_path / "model.bin")
    assert np.shares_memory(variables["decoder/projection/weight"], variables["decoder/embeddings/weight"])

    rebuilt = WhisperForConditionalGeneration(config).eval()
    missing, unexpected = rebuilt.load_state_dict(state_dict(variables), strict=False)
    assert unexpected == [] and set(missing) <= {"proj_out.weight"}  # tied to the decoder embeddings
    rebuilt.tie_weights()
    features = torch.randn(1, 16, 60)
    decoder_ids = torch.tensor([[2, 5, 7, 9]])
    with torch.no_grad():
        expected = original(input_features=features, decoder_input_ids=decoder_ids).logits
        got = rebuilt(input_features=features, decoder_input_ids=decoder_ids).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
