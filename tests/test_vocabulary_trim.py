"""Trimming a warm-started Whisper decoder's vocabulary to the target language (tasks/seq2seq/vocabulary_trim.py):
a tiny bert2whisper whose decoder has a real byte-level BPE with merges, as Whisper's has."""

from __future__ import annotations

import json

import pytest
import torch

from shared.errors import OmnituneError
from tasks.seq2seq import vocabulary_trim
from tasks.translation.task import TranslationParams, TranslationTask
from tests.test_seq2seq import split_folder
from tests.tiny_seq2seq import BIBLE_PAIRS as PAIRS
from tests.tiny_seq2seq import OTHER_LANGUAGES, SPANISH


def _params(tmp_path, **overrides):
    return TranslationParams(
        data=str(split_folder(tmp_path / "pairs", PAIRS)),
        num_beams=1,
        max_new_tokens=8,
        vocabulary_margin=0,
        **overrides,
    )


def _built(folder, tmp_path, training=True, **overrides):
    task = TranslationTask()
    params = _params(tmp_path, **overrides)
    return task, params, task.build(str(folder), params, task.load_examples(params, "train"), training=training)


def test_trimmed_tokenizer_splits_training_targets_as_before_and_still_spells_anything(tiny_bert2whisper, tmp_path):
    _, _, full = _built(tiny_bert2whisper, tmp_path, trim_target_vocabulary=False)
    trimmed = vocabulary_trim.trim_tokenizer(full.processor.target, SPANISH, margin=0)
    original = len(full.processor.target)
    assert 256 < len(trimmed.kept_old_ids) < original  # bytes kept, German and French pieces dropped
    for text in SPANISH:  # the same pieces, mapped through the kept ids: the model reads what it was trained on
        new_ids = trimmed.tokenizer(text).input_ids
        assert [trimmed.kept_old_ids[i] for i in new_ids] == full.processor.target(text).input_ids
    for text in [*OTHER_LANGUAGES, "Ñandú 漢字 ¿qué?"]:  # unseen text: smaller pieces, same text back
        assert trimmed.tokenizer.decode(trimmed.tokenizer(text).input_ids, skip_special_tokens=True) == text
    trimmed.tokenizer.save_pretrained(tmp_path / "saved")
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert reloaded(SPANISH[0]).input_ids == trimmed.tokenizer(SPANISH[0]).input_ids
    assert reloaded.convert_ids_to_tokens(reloaded("").input_ids) == [
        "<|startoftranscript|>",
        "<|es|>",
        "<|transcribe|>",
        "<|notimestamps|>",
        "<|endoftext|>",
    ]


def test_trimmed_model_gives_the_same_logits_for_the_kept_tokens(tiny_bert2whisper, tmp_path):
    task, params, full = _built(tiny_bert2whisper, tmp_path, trim_target_vocabulary=False)
    _, _, trimmed = _built(tiny_bert2whisper, tmp_path)
    kept = vocabulary_trim.trim_tokenizer(full.processor.target, SPANISH, margin=0).kept_old_ids
    assert trimmed.model.config.decoder.vocab_size == len(kept) < full.model.config.decoder.vocab_size
    examples = task.load_examples(params, "train")
    batches = [
        task.collator(built, params)(list(task.features(examples, built, params, for_eval=False)))
        for built in (full, trimmed)
    ]
    assert (batches[1]["labels"] >= 0).sum() == (batches[0]["labels"] >= 0).sum()
    with torch.no_grad():
        logits = [built.model.eval()(**batch).logits for built, batch in zip((full, trimmed), batches)]
    assert torch.allclose(logits[0][..., kept], logits[1], atol=1e-5)
    assert trimmed.model.generation_config.eos_token_id == trimmed.processor.target.eos_token_id
    assert any("trimmed from" in note for note in trimmed.model.config.omnitune_conditioning)


def test_a_trimmed_run_reloads_translates_and_refuses_another_language(tiny_bert2whisper, tmp_path):
    from shared.training import fine_tune

    task = TranslationTask()
    params = _params(tmp_path, model=str(tiny_bert2whisper), max_steps=2, eval_strategy="no")
    result = fine_tune(task, params, None, tmp_path / "run", log=lambda message: None)
    config = json.loads((result.model_dir / "config.json").read_text())
    assert config["decoder"]["vocab_size"] < 400 + 120  # BPE + Whisper's specials before the trim
    built = task.build(str(result.model_dir), params)  # evaluation: loaded as saved, not trimmed again
    assert built.model.config.decoder.vocab_size == config["decoder"]["vocab_size"]
    outputs = task.predict(built, task.load_examples(params, "test"), params, batch_size=2)
    assert len(outputs) == 4 and all(isinstance(o, str) for o in outputs)
    with pytest.raises(OmnituneError, match="trimmed to write <\\|es\\|>"):
        task.build(str(result.model_dir), params.model_copy(update={"target_lang": "de"}))


def test_trimming_applies_only_where_the_target_has_a_vocabulary_of_its_own(tiny_bert2bert, tmp_path):
    _, folder, model = tiny_bert2bert
    _, _, untouched = _built(folder, tmp_path)  # unset: nothing to trim on a shared vocabulary
    assert untouched.model.config.decoder.vocab_size == model.config.decoder.vocab_size
    with pytest.raises(OmnituneError, match="target tokenizer of its own"):
        _built(folder, tmp_path, trim_target_vocabulary=True)
