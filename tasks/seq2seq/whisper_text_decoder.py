"""Whisper's text decoder as a decoder for text-to-text models.

Whisper's decoder is a pretrained multilingual language model with cross-attention, which makes it a natural
half of a warm-started encoder-decoder (Rothe et al., 2020). transformers' `WhisperForCausalLM` holds exactly
those weights but takes its encoder states as `encoder_outputs` and never masks them (Whisper's audio frames
are never padded). This subclass accepts the names `EncoderDecoderModel` passes (`encoder_hidden_states`,
`encoder_attention_mask`) and masks padded source tokens in every cross-attention through a forward pre-hook,
so Whisper's own layers run unchanged. It is registered with the Auto classes under its own model type, so a
saved encoder-decoder that contains it reloads with `AutoModelForSeq2SeqLM` once this module is imported.
"""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForCausalLM, WhisperConfig, WhisperForCausalLM


class WhisperTextDecoderConfig(WhisperConfig):
    model_type = "omnitune_whisper_text_decoder"


class WhisperTextDecoder(WhisperForCausalLM):
    config_class = WhisperTextDecoderConfig

    def __init__(self, config: WhisperTextDecoderConfig):
        super().__init__(config)
        self._cross_attention_bias: torch.Tensor | None = None
        for layer in self.model.decoder.layers:
            layer.encoder_attn.register_forward_pre_hook(self._mask_padding, with_kwargs=True)

    def _mask_padding(self, module, args, kwargs):
        if self._cross_attention_bias is not None and kwargs.get("key_value_states") is not None:
            kwargs["attention_mask"] = self._cross_attention_bias.to(kwargs["key_value_states"].dtype)
        return args, kwargs

    def forward(
        self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None, **kwargs
    ):
        if encoder_attention_mask is not None:
            # (batch, source) 1/0 -> additive (batch, 1, 1, source): padded source tokens get no attention
            blocked = encoder_attention_mask[:, None, None, :] == 0
            dtype = encoder_hidden_states.dtype if encoder_hidden_states is not None else torch.float32
            self._cross_attention_bias = torch.zeros(blocked.shape, dtype=dtype).masked_fill(
                blocked, torch.finfo(dtype).min
            )
        try:
            return super().forward(
                input_ids=input_ids, attention_mask=attention_mask, encoder_outputs=encoder_hidden_states, **kwargs
            )
        finally:
            self._cross_attention_bias = None


AutoConfig.register(WhisperTextDecoderConfig.model_type, WhisperTextDecoderConfig)
AutoModelForCausalLM.register(WhisperTextDecoderConfig, WhisperTextDecoder)
