"""CTranslate2 Whisper -> transformers WhisperForConditionalGeneration folder (model, tokenizer with timestamp
tokens, feature extractor, generation config), as the conversion facts in the offline notes describe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from shared.converters.ctranslate2 import read_variables

HEAD_DIM = 64  # every Whisper size uses 64-wide attention heads
TIMESTAMPS = 1501  # <|0.00|> ... <|30.00|> in 0.02 s steps
_LAYER = re.compile(r"(encoder|decoder)/layer_(\d+)/")


def _linear(out: dict, prefix: str, variables: dict, source: str, bias: bool = True) -> None:
    out[f"{prefix}.weight"] = variables[f"{source}/weight"]
    if bias:
        out[f"{prefix}.bias"] = variables[f"{source}/bias"]


def _norm(out: dict, prefix: str, variables: dict, source: str) -> None:
    out[f"{prefix}.weight"] = variables[f"{source}/gamma"]
    out[f"{prefix}.bias"] = variables[f"{source}/beta"]


def state_dict(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    out: dict[str, np.ndarray] = {}
    for side in ("encoder", "decoder"):
        layers = sorted({int(m.group(2)) for name in variables if (m := _LAYER.match(name)) and m.group(1) == side})
        hf = f"model.{side}"
        for n in layers:
            ct, layer = f"{side}/layer_{n}", f"{hf}.layers.{n}"
            qkv_w = np.split(variables[f"{ct}/self_attention/linear_0/weight"], 3)
            qkv_b = np.split(variables[f"{ct}/self_attention/linear_0/bias"], 3)
            for name, w, b in zip(("q_proj", "k_proj", "v_proj"), qkv_w, qkv_b):
                out[f"{layer}.self_attn.{name}.weight"] = w
                if name != "k_proj":  # Whisper's key projection has no bias
                    out[f"{layer}.self_attn.{name}.bias"] = b
            _linear(out, f"{layer}.self_attn.out_proj", variables, f"{ct}/self_attention/linear_1")
            _norm(out, f"{layer}.self_attn_layer_norm", variables, f"{ct}/self_attention/layer_norm")
            _linear(out, f"{layer}.fc1", variables, f"{ct}/ffn/linear_0")
            _linear(out, f"{layer}.fc2", variables, f"{ct}/ffn/linear_1")
            _norm(out, f"{layer}.final_layer_norm", variables, f"{ct}/ffn/layer_norm")
            if side == "decoder":
                _linear(out, f"{layer}.encoder_attn.q_proj", variables, f"{ct}/attention/linear_0")
                k_w, v_w = np.split(variables[f"{ct}/attention/linear_1/weight"], 2)
                _, v_b = np.split(variables[f"{ct}/attention/linear_1/bias"], 2)
                out[f"{layer}.encoder_attn.k_proj.weight"] = k_w
                out[f"{layer}.encoder_attn.v_proj.weight"], out[f"{layer}.encoder_attn.v_proj.bias"] = v_w, v_b
                _linear(out, f"{layer}.encoder_attn.out_proj", variables, f"{ct}/attention/linear_2")
                _norm(out, f"{layer}.encoder_attn_layer_norm", variables, f"{ct}/attention/layer_norm")
        _norm(out, f"{hf}.layer_norm", variables, f"{side}/layer_norm")
        out[f"{hf}.embed_positions.weight"] = variables[f"{side}/position_encodings/encodings"]
    for conv in ("conv1", "conv2"):
        _linear(out, f"model.encoder.{conv}", variables, f"encoder/{conv}")
    out["model.decoder.embed_tokens.weight"] = variables["decoder/embeddings/weight"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}


def model_config(variables: dict[str, np.ndarray], token_ids: dict[str, int]):
    from transformers import WhisperConfig

    d_model = variables["decoder/embeddings/weight"].shape[1]
    count = lambda side: len({m.group(2) for n in variables if (m := _LAYER.match(n)) and m.group(1) == side})  # noqa: E731
    heads = d_model // HEAD_DIM
    ffn = variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]
    vocab = variables["decoder/embeddings/weight"].shape[0]
    eot, sot = token_ids["<|endoftext|>"], token_ids["<|startoftranscript|>"]
    return WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=variables["encoder/conv1/weight"].shape[1],
        d_model=d_model,
        encoder_layers=count("encoder"),
        decoder_layers=count("decoder"),
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        max_source_positions=variables["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=variables["decoder/position_encodings/encodings"].shape[0],
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        tie_word_embeddings=True,
        architectures=["WhisperForConditionalGeneration"],
    )


def tokenizer(tokenizer_json: Path):
    """The shipped tokenizer.json plus Whisper's timestamp tokens. Timestamps follow the last special token
    (<|notimestamps|>) and are not special themselves: WhisperTokenizer takes `last special id + 1` as the
    first timestamp, so registering them wrongly shifts every timestamp."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import WhisperTokenizer

    backend = Tokenizer.from_file(str(tokenizer_json))
    backend.post_processor = None  # prefixes come from the generation config / processor, not the tokenizer
    specials = sorted(
        ((t.content, i) for i, t in backend.get_added_tokens_decoder().items() if t.special), key=lambda item: item[1]
    )
    backend.add_tokens([AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(TIMESTAMPS)])
    names = [content for content, _ in specials]
    return WhisperTokenizer(
        tokenizer_object=backend,
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=[n for n in names if n != "<|endoftext|>"],
        model_max_length=1024,
    )


def generation_config(ct2_config: dict, token_ids: dict[str, int], multilingual: bool, max_length: int):
    from transformers import GenerationConfig

    languages = {
        name: token_ids[name]
        for name in token_ids
        if re.fullmatch(r"<\|[a-z]{2,3}\|>", name) and token_ids[name] in set(ct2_config.get("lang_ids", []))
    }
    config = GenerationConfig(
        decoder_start_token_id=token_ids["<|startoftranscript|>"],
        eos_token_id=token_ids["<|endoftext|>"],
        pad_token_id=token_ids["<|endoftext|>"],
        bos_token_id=token_ids["<|endoftext|>"],
        no_timestamps_token_id=token_ids["<|notimestamps|>"],
        prev_sot_token_id=token_ids["<|startofprev|>"],
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [])),
        alignment_heads=[list(pair) for pair in ct2_config.get("alignment_heads", [])],
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        max_length=max_length,
        return_timestamps=False,
    )
    if multilingual:
        config.lang_to_id = languages
        config.task_to_id = {"transcribe": token_ids["<|transcribe|>"], "translate": token_ids["<|translate|>"]}
    return config


def convert(model_dir: Path, destination: Path, multilingual: bool) -> None:
    """`model_dir` holds model.bin, config.json and tokenizer.json as CTranslate2 writes them."""
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

    variables = read_variables(model_dir / "model.bin")
    ct2_config = json.loads((model_dir / "config.json").read_text())
    whisper_tokenizer = tokenizer(model_dir / "tokenizer.json")
    token_ids = whisper_tokenizer.get_vocab()
    config = model_config(variables, token_ids)
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    model.load_state_dict(state_dict(variables), strict=False, assign=True)
    model.tie_weights()
    missing = [n for n, p in model.named_parameters() if p.is_meta]
    if missing:
        raise ValueError(f"conversion left parameters unset: {missing[:5]}")
    model.generation_config = generation_config(ct2_config, token_ids, multilingual, config.max_target_positions)
    model.save_pretrained(destination, safe_serialization=True)
    features = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    WhisperProcessor(feature_extractor=features, tokenizer=whisper_tokenizer).save_pretrained(destination)
