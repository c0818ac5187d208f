"""Warm-started encoder-decoders (Rothe et al., 2020, "Leveraging Pre-trained Checkpoints for Sequence
Generation Tasks"): a pretrained encoder and a pretrained decoder joined by cross-attention, so that only the
joints start from scratch. Two pairings from the offline shelf:

- `bert2bert`: MiniLM-L6 as encoder and as decoder (causal self-attention, new cross-attention, LM head tied
  to the word embeddings), for English -> English (summarization);
- `bert2whisper`: MiniLM-L6 encoder and Whisper base's multilingual text decoder (self-attention,
  cross-attention and LM head pretrained; cross-attention has seen audio, never text), joined by a new
  384 -> 512 projection; the target side uses Whisper's tokenizer, so the decoder can write Spanish.

Each assembled model records in its config which weights came from where and which are new
(`omnitune_warm_start`), and the model card prints it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertLMHeadModel, BertModel, EncoderDecoderModel

from tasks.seq2seq.tokenizers import TokenizerPair
from tasks.seq2seq.whisper_text_decoder import WhisperTextDecoder, WhisperTextDecoderConfig


def _provenance(model: torch.nn.Module, prefix: str, new_keys: set[str], source: str) -> dict:
    names = [name for name, _ in model.named_parameters()]
    new = sorted({key.split(".weight")[0].split(".bias")[0] for key in new_keys if key in dict.fromkeys(names)})
    copied = sum(p.numel() for n, p in model.named_parameters() if n not in new_keys)
    fresh = sum(p.numel() for n, p in model.named_parameters() if n in new_keys)
    return {
        "from": source,
        "copied_parameters": copied,
        "new_parameters": fresh,
        "new_modules": _collapse([f"{prefix}.{name}" for name in new]),
    }


def _collapse(names: list[str]) -> list[str]:
    """'decoder.bert.encoder.layer.3.crossattention.self.query' ... -> 'decoder.bert.encoder.layer.*.crossattention'"""
    import re

    patterns = []
    for name in names:
        pattern = re.sub(r"\.\d+\.", ".*.", name)
        pattern = re.sub(r"\.(self|output)(\..*)?$", "", pattern) if "crossattention" in pattern else pattern
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def bert2bert(
    encoder_path: str | Path, decoder_path: str | Path | None = None
) -> tuple[EncoderDecoderModel, TokenizerPair]:
    decoder_path = decoder_path or encoder_path
    encoder, encoder_info = _encoder(encoder_path)
    decoder, decoder_info = BertLMHeadModel.from_pretrained(
        decoder_path, is_decoder=True, add_cross_attention=True, output_loading_info=True, use_safetensors=True
    )
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    _set_special_tokens(model, start=tokenizer.cls_token_id, end=tokenizer.sep_token_id, pad=tokenizer.pad_token_id)
    model.config.omnitune_warm_start = {
        "pairing": "bert2bert",
        "encoder": _provenance(encoder, "encoder", set(encoder_info["missing_keys"]), str(encoder_path)),
        "decoder": _provenance(decoder, "decoder", set(decoder_info["missing_keys"]), str(decoder_path)),
    }
    return model, TokenizerPair(tokenizer, tokenizer)


def bert2whisper(encoder_path: str | Path, whisper_path: str | Path) -> tuple[EncoderDecoderModel, TokenizerPair]:
    encoder, encoder_info = _encoder(encoder_path)
    config = WhisperTextDecoderConfig(**WhisperTextDecoderConfig.from_pretrained(whisper_path).to_diff_dict())
    config.is_decoder = True
    decoder, decoder_info = WhisperTextDecoder.from_pretrained(
        whisper_path, config=config, output_loading_info=True, use_safetensors=True
    )
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)  # adds enc_to_dec_proj: 384 -> 512
    source = AutoTokenizer.from_pretrained(encoder_path)
    target = AutoTokenizer.from_pretrained(whisper_path)
    _set_special_tokens(
        model,
        start=target.convert_tokens_to_ids("<|startoftranscript|>"),
        end=target.eos_token_id,
        pad=target.eos_token_id,
    )
    projection = sum(p.numel() for p in model.enc_to_dec_proj.parameters())
    model.config.omnitune_warm_start = {
        "pairing": "bert2whisper",
        "encoder": _provenance(encoder, "encoder", set(encoder_info["missing_keys"]), str(encoder_path)),
        "decoder": _provenance(decoder, "decoder", set(decoder_info["missing_keys"]), str(whisper_path)),
        "joint": {
            "new_modules": ["enc_to_dec_proj"],
            "new_parameters": projection,
            "note": "Whisper's cross-attention is pretrained on audio encoder states, not text",
        },
    }
    return model, TokenizerPair(source, target)


def _encoder(path: str | Path):
    return BertModel.from_pretrained(path, output_loading_info=True, use_safetensors=True)


def _set_special_tokens(model: EncoderDecoderModel, start: int, end: int, pad: int) -> None:
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id, config.eos_token_id, config.pad_token_id = start, end, pad
    model.config.vocab_size = model.config.decoder.vocab_size
    model.generation_config.bos_token_id = None
    model.generation_config.forced_decoder_ids = None
