"""Translation and summarization: every supported model family (tiny random models with real tokenizers of
their own classes), the warm-started pairings, generation settings, metric parity and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from shared.errors import OmnituneError
from tasks.seq2seq.task import Seq2SeqParams
from tasks.summarization.task import SummarizationParams, SummarizationTask
from tasks.translation.task import TranslationParams, TranslationTask
from tests import tiny_seq2seq
from tests.conftest import _vocabulary

PAIRS = [{"translation": {"en": "In the beginning was the Word.", "es": "En el principio era el Verbo."}},
         {"translation": {"en": "Jesus wept.", "es": "Y lloró Jesús."}}]


@pytest.fixture(scope="session")
def spm(tmp_path_factory):
    return tiny_seq2seq.sentencepiece_models(tmp_path_factory.mktemp("spm"))


@pytest.fixture(scope="session")
def family_folder(spm, tmp_path_factory):
    return lambda family: tiny_seq2seq.save_family(family, spm, tmp_path_factory.mktemp(family))


def pair_file(tmp_path, rows=PAIRS):
    """A data folder with the same rows in every split."""
    folder = tmp_path / "pairs"
    folder.mkdir(exist_ok=True)
    for split in ("train", "validation", "test"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _examples(task, params, tmp_path):
    from tasks.seq2seq.data import load_pairs

    source, target = task.columns(params)
    return load_pairs(str(pair_file(tmp_path)), "train", source, target)


# (family, target language as the user gives it, what the model must be told)
LANGUAGE_CASES = [
    ("mbart50", "es", "forced_bos:es_XX"),
    ("m2m100", "es", "forced_bos:__es__"),
    ("nllb", "es", "forced_bos:spa_Latn"),
    ("nllb", "spa_Latn", "forced_bos:spa_Latn"),
    ("mbart", "es", "decoder_start:es_XX"),
]


@pytest.mark.parametrize("family,target_lang,expected", LANGUAGE_CASES)
def test_language_codes_are_set_as_each_family_requires(family_folder, family, target_lang, expected, tmp_path):
    task = TranslationTask()
    params = TranslationParams(data=str(pair_file(tmp_path)), source_lang="en", target_lang=target_lang,
                               num_beams=1, max_new_tokens=4)
    model, tokenizers = task.build(family_folder(family), params)
    kind, code = expected.split(":")
    code_id = tokenizers.source.convert_tokens_to_ids(code)
    assert code_id != tokenizers.source.unk_token_id
    condition = tokenizers.condition
    if kind == "forced_bos":
        assert condition.forced_bos_token_id == code_id
        generated = model.generate(**tokenizers.source(["Jesus wept."], return_tensors="pt"),
                                   generation_config=task.training_generation(model, params))
        assert generated[0, 1].item() == code_id  # after the decoder start token comes the target language
    else:
        assert condition.decoder_start_token_id == code_id
    # labels carry the target language where the family's tokenizer puts it
    labels = task.features(_examples(task, params, tmp_path), tokenizers, params, for_eval=False)["labels"]
    assert code_id in labels[0]


def test_t5_task_prefixes_come_from_the_model_config(family_folder, tmp_path):
    folder = family_folder("t5")
    translation, summarization = TranslationTask(), SummarizationTask()
    _, tokenizers = translation.build(folder, TranslationParams(source_lang="en", target_lang="de"))
    assert tokenizers.condition.source_prefix == "translate English to German: "
    # a pair the config does not list gets T5's own wording
    _, tokenizers = translation.build(folder, TranslationParams(source_lang="en", target_lang="es"))
    assert tokenizers.condition.source_prefix == "translate English to Spanish: "
    params = TranslationParams(source_lang="en", target_lang="es")
    features = translation.features(_examples(translation, params, tmp_path), tokenizers, params, for_eval=False)
    prefix_ids = tokenizers.source("translate English to Spanish:", add_special_tokens=False).input_ids
    assert features["input_ids"][0][:len(prefix_ids)] == prefix_ids
    _, tokenizers = summarization.build(folder, SummarizationParams())
    assert tokenizers.condition.source_prefix == "summarize: "
    # a user's prefix wins, and a model without task parameters gets none
    _, tokenizers = summarization.build(folder, SummarizationParams(source_prefix="tl;dr: "))
    assert tokenizers.condition.source_prefix == "tl;dr: "
    _, tokenizers = summarization.build(family_folder("bart"), SummarizationParams())
    assert tokenizers.condition.source_prefix == ""


@pytest.mark.parametrize("family", tiny_seq2seq.FAMILIES)
def test_every_family_tokenises_pairs_trains_and_generates(family_folder, family, tmp_path):
    task = TranslationTask()
    params = TranslationParams(data=str(pair_file(tmp_path)), source_lang="en", target_lang="es", num_beams=2,
                               max_new_tokens=6)
    model, tokenizers = task.build(family_folder(family), params)
    features = task.features(_examples(task, params, tmp_path), tokenizers, params, for_eval=False)
    batch = task.collator(tokenizers)([features[i] for i in range(len(features))])
    # labels are padded with -100 (ignored by the loss), never with the pad token
    lengths = [len(ids) for ids in features["labels"]]
    assert batch["labels"].shape == (2, max(lengths))
    shorter = lengths.index(min(lengths))
    assert (batch["labels"][shorter, min(lengths):] == -100).all()
    start = model.generation_config.decoder_start_token_id or model.config.decoder_start_token_id
    if family != "mbart":  # mBART-cc25's labels end with the language code, which is also its start token
        assert all(ids[0] != start or start == tokenizers.source.bos_token_id for ids in features["labels"])
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    outputs = task.predict(model, tokenizers, _examples(task, params, tmp_path), params, batch_size=2)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)


def test_marian_with_several_targets_gets_the_target_marker(family_folder):
    from tasks.seq2seq import families
    from tasks.seq2seq.tokenizers import TokenizerPair

    task = TranslationTask()
    model, tokenizers = task.build(family_folder("marian"), TranslationParams())
    tokenizers.source.supported_language_codes = [">>es<<", ">>fr<<"]  # as opus-mt-en-ROMANCE's tokenizer has
    condition = families.conditioning(model, TokenizerPair(tokenizers.source, tokenizers.source), "x", "en", "es", None)
    assert condition.source_prefix.startswith(">>es<< ")
    with pytest.raises(OmnituneError, match=">>de<<"):
        families.conditioning(model, tokenizers, "x", "en", "de", None)
