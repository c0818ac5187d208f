"""Tiny randomly initialised speech models built from configs (no download): a Whisper with a byte-level
tokenizer of the real WhisperTokenizer class, and a wav2vec2 CTC encoder without a vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    Wav2Vec2Config,
    Wav2Vec2ForCTC,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.models.whisper.tokenization_whisper import LANGUAGES

# Whisper's special tokens in Whisper's order: its tokenizer finds a language's token by position
SPECIAL = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    *[f"<|{code}|>" for code in LANGUAGES],
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
]


def save_tiny_whisper(
    folder: Path, multilingual: bool = False, encoder_layers: int = 1, bpe_texts: list[str] | None = None
) -> Path:
    """Byte symbols only, or with `bpe_texts` a byte-level BPE learnt from them (merges, as Whisper's has)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = byte_level_bpe(bpe_texts or [])
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer = WhisperTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=encoder_layers,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=ids["<|startoftranscript|>"],
        eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    generation = {
        "decoder_start_token_id": ids["<|startoftranscript|>"],
        "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "no_timestamps_token_id": ids["<|notimestamps|>"],
        "is_multilingual": multilingual,
        "max_length": 64,
    }
    if multilingual:
        generation.update(
            lang_to_id={"<|en|>": ids["<|en|>"], "<|de|>": ids["<|de|>"]},
            task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        )
    model.generation_config = GenerationConfig(**generation)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def byte_level_bpe(texts: list[str], vocab_size: int = 400) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges of a byte-level BPE trained on `texts` (just the 256 byte symbols when empty)."""
    characters = list(bytes_to_unicode().values())
    if not texts:
        return {c: i for i, c in enumerate(characters)}, []
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=characters))
    spec = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in spec["merges"]]
    return spec["vocab"], merges


def save_tiny_wav2vec2(folder: Path) -> Path:
    """An encoder with a CTC head but no vocabulary: omnitune builds one from the transcripts."""
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_feat_extract_layers=2,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        vocab_size=8,
        mask_time_prob=0.0,
        do_stable_layer_norm=False,
        feat_extract_norm="group",
    )
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


def write_tone(
    path: Path,
    seconds: float = 1.0,
    rate: int = 16_000,
    channels: int = 1,
    frequency: float = 440.0,
    amplitude: float = 0.3,
) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    soundfile.write(path, np.stack([tone] * channels, axis=1) if channels > 1 else tone, rate)
    return path


def write_audiofolder(root: Path, texts: dict[str, list[str]], seconds: float = 1.0) -> Path:
    """An audiofolder of tones, one per transcript, pitch following the transcript (so a model can tell them apart)."""
    for split, split_texts in texts.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for index, text in enumerate(split_texts):
            name = f"{split}-{index}.wav"
            write_tone(root / split / name, seconds, frequency=200 + 40 * (sum(map(ord, text)) % 20))
            rows.append({"file_name": name, "text": text})
        (root / split / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def save_tiny_speecht5(folder: Path) -> Path:
    """A SpeechT5 text-to-speech model with a character sentencepiece tokenizer (as the real one has) and a tiny
    HiFi-GAN vocoder in folder/vocoder, where omnitune looks for a run's own vocoder."""
    import sentencepiece
    from transformers import (
        SpeechT5Config,
        SpeechT5FeatureExtractor,
        SpeechT5ForTextToSpeech,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        SpeechT5Processor,
        SpeechT5Tokenizer,
    )

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text(
        "\n".join(
            [
                "press one two three four five six seven eight nine zero",
                "hello there goodbye please enter your number followed by the pound key",
            ]
            * 5
        )
    )
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "spm"),
        model_type="char",
        vocab_size=40,
        character_coverage=1.0,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        minloglevel=2,
    )
    tokenizer = SpeechT5Tokenizer(vocab_file=str(folder / "spm.model"))
    processor = SpeechT5Processor(SpeechT5FeatureExtractor(), tokenizer)
    config = SpeechT5Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        speech_decoder_prenet_units=32,
        speech_decoder_postnet_units=32,
        speech_decoder_postnet_layers=2,
        speaker_embedding_dim=512,
        reduction_factor=2,
        max_text_positions=200,
        max_speech_positions=600,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    SpeechT5ForTextToSpeech(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    vocoder = SpeechT5HifiGanConfig(
        model_in_dim=80,
        upsample_initial_channel=16,
        upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        sampling_rate=16_000,
    )
    SpeechT5HifiGan(vocoder).save_pretrained(folder / "vocoder")
    corpus.unlink()
    return folder
