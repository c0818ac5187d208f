"""Tiny randomly initialised sequence-to-sequence models of every family omnitune supports, each with a real
tokenizer of its own class built offline (a 300-piece SentencePiece model trained on bundled verses in well
under a second), saved as save_pretrained folders exactly as a Hub download would be."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch
import transformers as T

VERSES = Path(__file__).resolve().parents[1] / "tasks" / "translation" / "data" / "validation.jsonl.gz"
SIZES = {
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 128,
}
# a warm-started bert2whisper's data: its decoder's BPE also knows German and French, which a Spanish trim drops
SPANISH = [
    "En el principio era el Verbo, y el Verbo era con Dios.",
    "Y lloró Jesús.",
    "Porque de tal manera amó Dios al mundo.",
    "Yo soy el camino, y la verdad, y la vida.",
]
OTHER_LANGUAGES = ["Im Anfang war das Wort, und das Wort war bei Gott.", "Au commencement était la Parole."]
ENGLISH = [
    "In the beginning was the Word, and the Word was with God.",
    "Jesus wept.",
    "For God so loved the world.",
    "I am the way, the truth, and the life.",
]
BIBLE_PAIRS = [{"translation": {"en": en, "es": es}} for en, es in zip(ENGLISH, SPANISH)]
FAMILIES = ("marian", "t5", "bart", "pegasus", "mbart", "mbart50", "m2m100", "nllb")


def sentencepiece_models(folder: Path) -> dict[str, Path]:
    import sentencepiece

    lines = []
    with gzip.open(VERSES, "rt") as handle:
        for line in handle:
            pair = json.loads(line)["translation"]
            lines += [pair["en"], pair["es"]]
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(lines))
    models = {}
    for kind in ("unigram", "bpe"):
        sentencepiece.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(folder / kind),
            vocab_size=300,
            model_type=kind,
            character_coverage=1.0,
            pad_id=-1,
            bos_id=0,
            eos_id=1,
            unk_id=2,
            minloglevel=2,
        )
        models[kind] = folder / f"{kind}.model"
    vocabulary = [
        sentencepiece.SentencePieceProcessor(model_file=str(models["bpe"])).id_to_piece(i) for i in range(3, 300)
    ]
    (folder / "vocab.json").write_text(
        json.dumps({p: i for i, p in enumerate(["<s>", "</s>", "<unk>", "<pad>", *vocabulary])})
    )
    return models


def tokenizer_for(family: str, spm: dict[str, Path]):
    folder = spm["unigram"].parent
    if family == "marian":
        return T.MarianTokenizer(
            source_spm=str(spm["unigram"]), target_spm=str(spm["unigram"]), vocab=str(folder / "vocab.json")
        )
    if family == "m2m100":
        return T.M2M100Tokenizer(vocab_file=str(folder / "vocab.json"), spm_file=str(spm["bpe"]))
    if family == "nllb":
        return T.NllbTokenizer.from_pretrained(
            folder, vocab_file=str(spm["bpe"]), extra_special_tokens=["eng_Latn", "spa_Latn", "deu_Latn"]
        )
    classes = {
        "t5": (T.T5Tokenizer, "unigram"),
        "bart": (T.BartTokenizer, "bpe"),
        "pegasus": (T.PegasusTokenizer, "unigram"),
        "mbart": (T.MBartTokenizer, "bpe"),
        "mbart50": (T.MBart50Tokenizer, "bpe"),
    }
    tokenizer_class, kind = classes[family]
    return tokenizer_class.from_pretrained(folder, vocab_file=str(spm[kind]))


def model_for(family: str, tokenizer) -> torch.nn.Module:
    torch.manual_seed(0)
    vocab = (
        max(
            len(tokenizer),
            max(tokenizer.get_vocab().values()) + 1,
            *getattr(tokenizer, "lang_token_to_id", {0: 0}).values(),
        )
        + 1
    )
    special = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    if family == "t5":
        config = T.T5Config(
            vocab_size=vocab,
            d_model=32,
            d_kv=16,
            d_ff=64,
            num_layers=1,
            num_heads=2,
            decoder_start_token_id=tokenizer.pad_token_id,
            **special,
            task_specific_params={
                "summarization": {"prefix": "summarize: "},
                "translation_en_to_de": {"prefix": "translate English to German: "},
            },
        )
        return T.T5ForConditionalGeneration(config)
    if family == "marian":
        config = T.MarianConfig(vocab_size=vocab, decoder_start_token_id=tokenizer.pad_token_id, **SIZES, **special)
        return T.MarianMTModel(config)
    if family == "pegasus":
        config = T.PegasusConfig(vocab_size=vocab, decoder_start_token_id=tokenizer.pad_token_id, **SIZES, **special)
        return T.PegasusForConditionalGeneration(config)
    if family in ("bart", "mbart", "mbart50"):
        config_class, model_class = (
            (T.BartConfig, T.BartForConditionalGeneration)
            if family == "bart"
            else (T.MBartConfig, T.MBartForConditionalGeneration)
        )
        config = config_class(
            vocab_size=vocab,
            decoder_start_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
            **SIZES,
            **special,
        )
        return model_class(config)
    config = T.M2M100Config(vocab_size=vocab, decoder_start_token_id=tokenizer.eos_token_id, **SIZES, **special)
    return T.M2M100ForConditionalGeneration(config)


def save_family(family: str, spm: dict[str, Path], folder: Path) -> Path:
    tokenizer = tokenizer_for(family, spm)
    model_for(family, tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_bert(folder: Path, vocabulary: list[str]) -> Path:
    """A 2-layer BERT encoder (hidden 32) with a WordPiece tokenizer: the offline stand-in for MiniLM."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocabulary)) + "\n")
    tokenizer = T.BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True, model_max_length=128)
    torch.manual_seed(0)
    config = T.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    T.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_bert2whisper(root: Path) -> Path:
    """A warm-started bert2whisper as the shelf saves minilm2whisper-base: a tiny BERT encoder and a tiny Whisper
    decoder whose byte-level BPE has merges learnt from Spanish, German and French."""
    from tasks.seq2seq.warm_start import bert2whisper
    from tests.tiny_speech import save_tiny_whisper

    words = sorted({w.strip(".,").lower() for text in ENGLISH for w in text.split()})
    bert = save_tiny_bert(root / "bert", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])
    whisper = save_tiny_whisper(root / "whisper", multilingual=True, bpe_texts=(SPANISH + OTHER_LANGUAGES) * 5)
    model, tokenizers = bert2whisper(bert, whisper)
    model.save_pretrained(root / "model")
    tokenizers.save_pretrained(root / "model")
    return root / "model"
