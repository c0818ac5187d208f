"""What each sequence-to-sequence model family needs to be told about the task, read from the model itself:

- a task prefix for T5-style models ("translate English to German: ", "summarize: "), from the
  `task_specific_params` of the model's config when it has one;
- language codes for multilingual models: mBART / mBART-50 (`en_XX`), M2M100 (`__en__`), NLLB (`eng_Latn`): the
  tokenizer's `src_lang`/`tgt_lang`, and the target language as the first generated token (forced BOS) or, for
  mBART-cc25, as the decoder start token; a Marian model with several target languages gets `>>es<<`;
- Whisper's text decoder (warm-started pairings): the target tokenizer's prefix `<|startoftranscript|><|es|>
  <|transcribe|><|notimestamps|>`, which generation is given as the decoder's prompt.
Users may give a family's own code (`spa_Latn`) or an ISO 639-1 code (`es`) that is mapped to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.errors import OmnituneError

# ISO 639-1 -> ISO 639-3 + script, for NLLB's FLORES-200 codes (common languages; any exact code also works)
FLORES = {
    "en": "eng_Latn",
    "es": "spa_Latn",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "it": "ita_Latn",
    "pt": "por_Latn",
    "nl": "nld_Latn",
    "ru": "rus_Cyrl",
    "zh": "zho_Hans",
    "ja": "jpn_Jpan",
    "ar": "arb_Arab",
    "hi": "hin_Deva",
    "ko": "kor_Hang",
    "pl": "pol_Latn",
    "tr": "tur_Latn",
    "uk": "ukr_Cyrl",
    "sv": "swe_Latn",
    "ca": "cat_Latn",
    "ro": "ron_Latn",
    "cs": "ces_Latn",
}
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "pt": "Portuguese",
    "ro": "Romanian",
    "nl": "Dutch",
    "ru": "Russian",
    "zh": "Chinese",
}


def language_names(code: str) -> tuple[str, ...]:
    """The names a language column may have in data: the code as given, then its ISO 639-1 form
    (spa_Latn -> es, es_XX -> es, __es__ -> es)."""
    plain = code.strip("_")
    iso = {flores: iso for iso, flores in FLORES.items()}.get(plain) or plain.split("_")[0]
    return tuple(dict.fromkeys((code, iso)))


@dataclass
class Conditioning:
    """How one model is conditioned on the task: what goes before the source text, how generation starts."""

    source_prefix: str = ""
    decoder_prompt: list[int] = field(default_factory=list)  # forced first decoder tokens (after the start token)
    forced_bos_token_id: int | None = None
    decoder_start_token_id: int | None = None
    model_start_token_id: int | None = None  # the model prepends it to decoder inputs, so labels must not hold it
    notes: list[str] = field(default_factory=list)  # what was set, for the log and the model card


def task_prefix(config, key: str) -> str:
    params = getattr(config, "task_specific_params", None) or {}
    return (params.get(key) or {}).get("prefix", "") or ""


def language_code(tokenizer, language: str) -> tuple[str, str]:
    """(the value the tokenizer's src_lang/tgt_lang take, the special token that marks the language), from an
    exact code or an ISO 639-1 code mapped onto the family's scheme. Only special tokens count as codes: "es"
    is also an ordinary word piece in most vocabularies."""
    by_code = getattr(tokenizer, "lang_code_to_token", None)
    if by_code:  # M2M100: src_lang "en", token "__en__"
        code = language.strip("_")
        if code in by_code:
            return code, by_code[code]
    else:
        codes = set(tokenizer.all_special_tokens) | {str(t) for t in tokenizer.added_tokens_decoder.values()}
        candidates = [language, FLORES.get(language, "")]
        candidates += sorted(code for code in codes if code.split("_")[0] == language)
        for candidate in candidates:
            if candidate in codes:
                return candidate, candidate
    raise OmnituneError(
        f"{type(tokenizer).__name__} has no language code for '{language}'",
        "give the model's own code, e.g. --target_lang spa_Latn (NLLB) or es_XX (mBART)",
    )


def conditioning(
    model, tokenizers, task_key: str, source_lang: str | None, target_lang: str | None, source_prefix: str | None
) -> Conditioning:
    """Configure `tokenizers` (a TokenizerPair) in place and say how generation must start."""
    result = Conditioning()
    config = model.config
    result.source_prefix = source_prefix if source_prefix is not None else task_prefix(config, task_key)
    if result.source_prefix:
        result.notes.append(f"source prefix {result.source_prefix!r}")
    source, target = tokenizers.source, tokenizers.target
    if hasattr(target, "set_prefix_tokens") and "<|startoftranscript|>" in target.get_vocab():
        # Whisper's decoder always starts from a language token: English unless a target language is given
        target.set_prefix_tokens(language=target_lang or "en", task="transcribe", predict_timestamps=False)
        result.decoder_prompt = target.prefix_tokens[1:]
        result.notes.append("Whisper decoder prompt " + "".join(target.convert_ids_to_tokens(target.prefix_tokens)))
    elif "<|startoftranscript|>" in target.get_vocab():
        result.decoder_prompt = _fixed_prompt(target, target_lang)
        prompt = "".join(target.convert_ids_to_tokens(target("").input_ids[:-1]))
        result.notes.append(f"Whisper decoder prompt {prompt} (fixed by the trimmed vocabulary)")
    elif target_lang and hasattr(source, "src_lang"):
        if source_lang:
            source.src_lang = language_code(source, source_lang)[0]
        source.tgt_lang, token = language_code(source, target_lang)
        code_id = source.convert_tokens_to_ids(token)
        if config.model_type == "mbart" and type(source).__name__ == "MBartTokenizer":
            result.decoder_start_token_id = code_id  # mBART-cc25 starts decoding with the language code
        else:
            result.forced_bos_token_id = code_id  # mBART-50, M2M100, NLLB: the first generated token
        result.notes.append(f"languages {source.src_lang} -> {source.tgt_lang}")
    elif target_lang and getattr(source, "supported_language_codes", None):
        marker = f">>{target_lang}<<"
        if marker not in source.supported_language_codes:
            raise OmnituneError(
                f"this Marian model has no target '{marker}'",
                f"choose one of {', '.join(source.supported_language_codes[:20])}",
            )
        result.source_prefix = f"{marker} {result.source_prefix}"
        result.notes.append(f"Marian target marker {marker}")
    return result


def _fixed_prompt(target, target_lang: str | None) -> list[int]:
    """A Whisper vocabulary trimmed to one language (tasks/seq2seq/vocabulary_trim.py) has its prompt in its
    template: the prompt after the start token, checked against the language asked for."""
    prompt = target("").input_ids[1:-1]  # language, task, no-timestamps: Whisper's order
    language = target.convert_ids_to_tokens(prompt[0])
    if target_lang and language != f"<|{target_lang}|>":
        raise OmnituneError(
            f"this model's vocabulary was trimmed to write {language}, not <|{target_lang}|>",
            f"use --target_lang {language.strip('<|>')}, or fine-tune the untrimmed model for another language",
        )
    return prompt
