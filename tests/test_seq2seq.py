"""Translation and summarization: every supported model family (tiny random models with real tokenizers of
their own classes), the warm-started pairings, generation settings, metric parity and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from shared.errors import OmnituneError
from tasks.summarization.task import SummarizationParams, SummarizationTask
from tasks.translation.task import TranslationParams, TranslationTask
from tests import tiny_seq2seq

PAIRS = [
    {"translation": {"en": "In the beginning was the Word.", "es": "En el principio era el Verbo."}},
    {"translation": {"en": "Jesus wept.", "es": "Y lloró Jesús."}},
]


def split_folder(folder, rows):
    """A data folder with the same rows in every split."""
    folder.mkdir(exist_ok=True)
    for split in ("train", "validation", "test"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def pair_file(tmp_path, rows=PAIRS):
    return split_folder(tmp_path / "pairs", rows)


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
    params = TranslationParams(
        data=str(pair_file(tmp_path)), source_lang="en", target_lang=target_lang, num_beams=1, max_new_tokens=4
    )
    built = task.build(family_folder(family), params)
    model, tokenizers = built.model, built.processor
    kind, code = expected.split(":")
    code_id = tokenizers.source.convert_tokens_to_ids(code)
    assert code_id != tokenizers.source.unk_token_id
    condition = tokenizers.condition
    assert model.config.omnitune_conditioning == condition.notes  # what the model card will state
    assert any(f"-> {tokenizers.source.tgt_lang}" in note for note in condition.notes)
    if kind == "forced_bos":
        assert condition.forced_bos_token_id == code_id
        generated = model.generate(
            **tokenizers.source(["Jesus wept."], return_tensors="pt"),
            generation_config=task.training_generation(built, params),
        )
        assert generated[0, 1].item() == code_id  # after the decoder start token comes the target language
    else:
        assert condition.decoder_start_token_id == code_id
    # labels carry the target language where the family's tokenizer puts it
    labels = task.features(_examples(task, params, tmp_path), built, params, for_eval=False)["labels"]
    assert code_id in labels[0]


def test_t5_task_prefixes_come_from_the_model_config(family_folder, tmp_path):
    folder = family_folder("t5")
    translation, summarization = TranslationTask(), SummarizationTask()
    tokenizers = translation.build(folder, TranslationParams(source_lang="en", target_lang="de")).processor
    assert tokenizers.condition.source_prefix == "translate English to German: "
    # a pair the config does not list gets T5's own wording
    built = translation.build(folder, TranslationParams(source_lang="en", target_lang="es"))
    tokenizers = built.processor
    assert tokenizers.condition.source_prefix == "translate English to Spanish: "
    params = TranslationParams(source_lang="en", target_lang="es")
    features = translation.features(_examples(translation, params, tmp_path), built, params, for_eval=False)
    prefix_ids = tokenizers.source("translate English to Spanish:", add_special_tokens=False).input_ids
    assert features["input_ids"][0][: len(prefix_ids)] == prefix_ids
    tokenizers = summarization.build(folder, SummarizationParams()).processor
    assert tokenizers.condition.source_prefix == "summarize: "
    # a user's prefix wins, and a model without task parameters gets none
    tokenizers = summarization.build(folder, SummarizationParams(source_prefix="tl;dr: ")).processor
    assert tokenizers.condition.source_prefix == "tl;dr: "
    tokenizers = summarization.build(family_folder("bart"), SummarizationParams()).processor
    assert tokenizers.condition.source_prefix == ""


@pytest.mark.parametrize("family", tiny_seq2seq.FAMILIES)
def test_every_family_tokenises_pairs_trains_and_generates(family_folder, family, tmp_path):
    task = TranslationTask()
    params = TranslationParams(
        data=str(pair_file(tmp_path)), source_lang="en", target_lang="es", num_beams=2, max_new_tokens=6
    )
    built = task.build(family_folder(family), params)
    model, tokenizers = built.model, built.processor
    features = task.features(_examples(task, params, tmp_path), built, params, for_eval=False)
    batch = task.collator(built, params)([features[i] for i in range(len(features))])
    # labels are padded with -100 (ignored by the loss), never with the pad token
    lengths = [len(ids) for ids in features["labels"]]
    assert batch["labels"].shape == (2, max(lengths))
    shorter = lengths.index(min(lengths))
    assert (batch["labels"][shorter, min(lengths) :] == -100).all()
    start = model.generation_config.decoder_start_token_id or model.config.decoder_start_token_id
    if family != "mbart":  # mBART-cc25's labels end with the language code, which is also its start token
        assert all(ids[0] != start or start == tokenizers.source.bos_token_id for ids in features["labels"])
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    outputs = task.predict(built, _examples(task, params, tmp_path), params, batch_size=2)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)


def test_marian_with_several_targets_gets_the_target_marker(family_folder):
    from tasks.seq2seq import families
    from tasks.seq2seq.tokenizers import TokenizerPair

    task = TranslationTask()
    built = task.build(family_folder("marian"), TranslationParams())
    model, tokenizers = built.model, built.processor
    tokenizers.source.supported_language_codes = [">>es<<", ">>fr<<"]  # as opus-mt-en-ROMANCE's tokenizer has
    condition = families.conditioning(model, TokenizerPair(tokenizers.source, tokenizers.source), "x", "en", "es", None)
    assert condition.source_prefix.startswith(">>es<< ")
    with pytest.raises(OmnituneError, match=">>de<<"):
        families.conditioning(model, tokenizers, "x", "en", "de", None)


# -- warm starts -------------------------------------------------------------------------------------------------


def test_bert2bert_copies_both_halves_and_adds_cross_attention(tiny_bert2bert):
    from transformers import BertModel

    bert_folder, _, model = tiny_bert2bert
    bert = BertModel.from_pretrained(bert_folder)
    for name, weight in bert.encoder.named_parameters():
        assert torch.equal(model.encoder.encoder.get_parameter(name), weight)
        assert torch.equal(model.decoder.bert.encoder.get_parameter(name), weight)  # self-attention, FFN
    layers = model.decoder.bert.encoder.layer
    assert all(hasattr(layer, "crossattention") for layer in layers)
    assert model.decoder.config.is_decoder and model.decoder.config.add_cross_attention
    provenance = model.config.omnitune_warm_start
    assert provenance["encoder"]["new_parameters"] == 0
    assert "decoder.bert.encoder.layer.*.crossattention" in provenance["decoder"]["new_modules"]
    assert provenance["decoder"]["new_parameters"] > 0


def test_warm_started_model_reloads_and_labels_skip_the_start_token(tiny_bert2bert, tmp_path):
    _, folder, _ = tiny_bert2bert
    task = SummarizationTask()
    params = SummarizationParams(data=str(summary_folder(tmp_path)))
    built = task.build(str(folder), params)
    model, tokenizers = built.model, built.processor
    assert model.config.omnitune_warm_start["pairing"] == "bert2bert"  # provenance survives save/load
    cls, sep = tokenizers.source.cls_token_id, tokenizers.source.sep_token_id
    assert model.config.decoder_start_token_id == cls and model.generation_config.eos_token_id == sep
    labels = task.features(task.load_examples(params, "train"), built, params, for_eval=False)["labels"]
    assert all(ids[0] != cls and ids[-1] == sep for ids in labels)  # the model prepends [CLS] itself


def test_freezing_keeps_the_joints_trainable(tiny_bert2bert, tmp_path):
    _, folder, _ = tiny_bert2bert
    task = SummarizationTask()
    model = task.build(str(folder), SummarizationParams(freeze="decoder")).model
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any("crossattention" in name for name in trainable)
    assert not any(
        name.startswith("decoder.") and "crossattention" not in name and "transform" not in name for name in trainable
    )
    assert any(name.startswith("encoder.") for name in trainable)
    model = task.build(str(folder), SummarizationParams(freeze="encoder")).model
    assert not any(p.requires_grad for p in model.encoder.parameters())


def test_whisper_text_decoder_ignores_padded_source_tokens():
    from tasks.seq2seq.whisper_text_decoder import WhisperTextDecoder, WhisperTextDecoderConfig

    torch.manual_seed(0)
    config = WhisperTextDecoderConfig(
        vocab_size=100,
        d_model=32,
        decoder_layers=2,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        encoder_layers=1,
        encoder_attention_heads=2,
        max_target_positions=32,
        max_source_positions=32,
        is_decoder=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    decoder = WhisperTextDecoder(config).eval()
    states = torch.randn(1, 5, 32)
    padded = torch.cat([states, torch.randn(1, 3, 32) * 10], dim=1)  # garbage where the source is padding
    tokens = torch.tensor([[1, 7, 9]])
    with torch.no_grad():
        alone = decoder(input_ids=tokens, encoder_hidden_states=states).logits
        masked = decoder(
            input_ids=tokens, encoder_hidden_states=padded, encoder_attention_mask=torch.tensor([[1] * 5 + [0] * 3])
        ).logits
        unmasked = decoder(input_ids=tokens, encoder_hidden_states=padded).logits
    assert torch.allclose(alone, masked, atol=1e-5)
    assert not torch.allclose(alone, unmasked, atol=1e-3)  # the mask is what made the difference


SUMMARIES = [
    {"document": f"The {w}() function returns the {w} of its argument. It never fails.", "summary": f"compute the {w}"}
    for w in ("sine", "cosine", "tangent", "square root", "logarithm", "exponent", "absolute value", "floor")
]


def summary_folder(tmp_path, rows=SUMMARIES):
    return split_folder(tmp_path / "summaries", rows)


def test_loss_falls_when_overfitting_a_tiny_set(tiny_bert2bert, tmp_path):
    from shared.training import fine_tune

    _, folder, _ = tiny_bert2bert
    task = SummarizationTask()
    params = SummarizationParams(
        model=str(folder),
        data=str(summary_folder(tmp_path)),
        max_steps=150,
        learning_rate=5e-3,
        per_device_train_batch_size=8,
        logging_steps=10,
        eval_strategy="no",
        num_beams=1,
        max_new_tokens=8,
    )
    result = fine_tune(task, params, None, tmp_path / "run", log=lambda message: None)
    history = [json.loads(line) for line in (result.run / "train_log.jsonl").read_text().splitlines()]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert losses[-1] < losses[0] / 3, losses
    built = task.build(str(result.model_dir), params)
    outputs = task.predict(built, task.load_examples(params, "test"), params, batch_size=4)
    assert all(o.startswith("compute the") for o in outputs), outputs  # the target's pattern was learned


# -- generation ----------------------------------------------------------------------------------------------------


def test_generation_settings_come_from_the_command_line(family_folder):
    from apps.cli import parse_overrides
    from shared.config import load_params
    from tasks.seq2seq import generation

    task = TranslationTask()
    overrides = parse_overrides(
        [
            "--num_beams",
            "3",
            "--no_repeat_ngram_size",
            "2",
            "--length_penalty",
            "0.6",
            "--max_new_tokens",
            "9",
            "--min_new_tokens",
            "2",
            "--early_stopping",
            "false",
        ],
        task.params_class,
    )
    params = load_params(task.params_class, None, overrides)
    built = task.build(family_folder("marian"), params)
    model, tokenizers = built.model, built.processor
    settings = generation.settings_of(params)
    config = generation.generation_config(model, settings, tokenizers.condition)
    assert (
        config.num_beams,
        config.no_repeat_ngram_size,
        config.length_penalty,
        config.max_new_tokens,
        config.min_new_tokens,
        config.early_stopping,
    ) == (3, 2, 0.6, 9, 2, False)
    config.validate(strict=True)  # no contradictory knobs
    sampled = generation.generation_config(
        model, settings.model_copy(update={"num_beams": 1, "do_sample": True, "top_p": 0.9}), tokenizers.condition
    )
    sampled.validate(strict=True)
    assert sampled.do_sample and sampled.top_p == 0.9


def test_sorted_batches_keep_the_input_order_and_streaming_ends_where_generation_does(family_folder):
    from tasks.seq2seq import generation

    task = TranslationTask()
    params = TranslationParams(num_beams=1, max_new_tokens=8, no_repeat_ngram_size=0)
    built = task.build(family_folder("marian"), params)
    model, tokenizers = built.model, built.processor
    texts = [
        "Jesus wept.",
        "In the beginning was the Word, and the Word was with God.",
        "Amen.",
        "He came to his own, and those who were his own did not receive him.",
    ]
    settings = generation.GenerationParams(num_beams=1, max_new_tokens=8, no_repeat_ngram_size=0)
    one_by_one = [generation.generate(model, tokenizers, [t], tokenizers.condition, settings, 64, 1)[0] for t in texts]
    batched = generation.generate(model, tokenizers, texts, tokenizers.condition, settings, 64, batch_size=3)
    assert batched == one_by_one
    pieces = list(generation.stream(model, tokenizers, texts[1], tokenizers.condition, settings, 64))
    assert pieces[-1] == one_by_one[1]
    assert all(later.startswith(earlier) for earlier, later in zip(pieces, pieces[1:]))


# -- metrics and baselines ----------------------------------------------------------------------------------------


def test_metrics_equal_sacrebleu_and_rouge_score_on_the_same_strings():
    import sacrebleu
    from rouge_score import rouge_scorer

    from evaluation.metrics import load_metric

    predictions = ["El gato está en la casa.", "Y lloró Jesús", "En el principio era la palabra."]
    references = ["El gato estaba en casa.", "Jesús lloró.", "En el principio era el Verbo."]
    ours = load_metric("translation").compute(predictions=predictions, references=references)
    assert ours["bleu"] == pytest.approx(sacrebleu.corpus_bleu(predictions, [references]).score)
    assert ours["chrf++"] == pytest.approx(sacrebleu.corpus_chrf(predictions, [references], word_order=2).score)
    assert ours["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    ours = load_metric("summarization").compute(predictions=predictions, references=references)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    direct = [scorer.score(r, p) for p, r in zip(predictions, references)]
    for name in ("rouge1", "rouge2", "rougeL"):
        assert ours[name] == pytest.approx(100 * sum(d[name].fmeasure for d in direct) / len(direct))


def test_baselines_copy_the_source_and_take_the_lead_sentence():
    from tasks.summarization.task import first_sentence

    assert (
        first_sentence("The fork() call creates a process. It returns twice.") == "The fork() call creates a process."
    )
    assert first_sentence("Values e.g. 1.5 are allowed. Next.") == "Values e.g. 1.5 are allowed."
    examples = {"source": ["a b", "c"], "target": ["x", "y"]}
    assert TranslationTask().baseline(examples, TranslationParams()) == ("copy the source", ["a b", "c"])


# -- bad input -----------------------------------------------------------------------------------------------------


def test_bad_data_gets_a_message_that_names_the_problem_and_the_fix(tmp_path):
    from tasks.seq2seq.data import load_pairs

    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"text": "a", "headline": "b"}) + "\n")
    with pytest.raises(OmnituneError, match="no column 'document'.*found: text, headline") as error:
        load_pairs(str(wrong), "train", "document", "summary")
    assert "column_mapping" in error.value.fix
    rows = [{"document": "fine", "summary": "ok"}, {"document": " ", "summary": "x"}, {"document": "y", "summary": ""}]
    folder = summary_folder(tmp_path, rows)
    with pytest.raises(OmnituneError, match=r"2 examples with an empty source or target \(rows 1, 2\)"):
        load_pairs(str(folder), "train", "document", "summary")
    with pytest.warns(UserWarning, match="dropped 2"):
        assert len(load_pairs(str(folder), "train", "document", "summary", skip_empty=True)) == 1
    with pytest.raises(OmnituneError, match="languages en, es, not fr"):
        load_pairs(str(pair_file(tmp_path)), "train", "en", "fr")
    mapped = load_pairs(str(wrong), "test", "document", "summary", {"document": "text", "summary": "headline"})
    assert mapped[0]["source"] == "a"


def test_older_translation_layouts_are_read(tmp_path):
    from tasks.seq2seq.data import load_pairs

    columns = tmp_path / "columns.jsonl"  # src / tgt columns, as many translation corpora name them
    columns.write_text("".join(json.dumps({"src": f"hello {i}", "tgt": f"hola {i}"}) + "\n" for i in range(20)))
    assert load_pairs(str(columns), "all", ("en",), ("es",))[0] == {"source": "hello 0", "target": "hola 0", "row": 0}
    lines = tmp_path / "lines"  # transformers' older seq2seq examples: line-aligned train.source / train.target
    lines.mkdir()
    for split in ("train", "val", "test"):
        (lines / f"{split}.source").write_text("one\ntwo\n")
        (lines / f"{split}.target").write_text("uno\ndos\n")
    validation = load_pairs(str(lines), "validation", "en", "es")
    assert [(r["source"], r["target"]) for r in validation] == [("one", "uno"), ("two", "dos")]
    (lines / "test.target").write_text("uno\n")
    with pytest.raises(OmnituneError, match="has 2 lines but .*test.target has 1"):
        load_pairs(str(lines), "test", "en", "es")


def test_a_list_in_a_text_column_is_refused_not_turned_into_its_python_spelling(tmp_path):
    from tasks.seq2seq.data import load_pairs

    listed = tmp_path / "listed.jsonl"
    listed.write_text(json.dumps({"document": ["a", "b"], "summary": "ab"}) + "\n")
    with pytest.raises(OmnituneError, match=r"column 'document' holds lists, not text \(rows 0\)"):
        load_pairs(str(listed), "all", "document", "summary")


def test_a_language_the_model_lacks_is_refused_with_the_codes_to_use(family_folder):
    with pytest.raises(OmnituneError, match="no language code for 'xx'") as error:
        TranslationTask().build(family_folder("nllb"), TranslationParams(target_lang="xx"))
    assert "spa_Latn" in error.value.fix


# -- demo ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def summarization_demo(tiny_bert2bert, serve):
    from apps.demos import build_demo

    _, folder, _ = tiny_bert2bert
    params = SummarizationParams(max_source_length=16, max_new_tokens=5)
    return serve(build_demo("summarization", str(folder), params=params))


def test_demo_generates_and_says_when_the_input_was_cut(summarization_demo):
    from gradio_client import Client

    client = Client(summarization_demo.local_url, verbose=False)
    short = "It returns a value."
    output, status, details = client.predict(short, 1, 5, 0, 1.0, False, 1.0, 1.0, api_name="/generate")
    assert isinstance(output, str) and "The input was cut" not in status
    assert details["tokens"] <= 16 and details["generation"]["max_new_tokens"] == 5
    long = " ".join(["The fork() call creates a new process by duplicating the calling process."] * 4)
    output, status, details = client.predict(long, 2, 5, 0, 1.0, False, 1.0, 1.0, api_name="/generate")
    assert details["cut"] and "The input was cut" in status
    assert long[details["read_up_to_character"] :].startswith(details["unread_tail"][:20])


@pytest.mark.parametrize("text,message", [("   ", "The input is empty"), ("x" * 20_001, "the limit is 20,000")])
def test_demo_explains_bad_input(summarization_demo, text, message):
    from gradio_client import Client

    client = Client(summarization_demo.local_url, verbose=False)
    with pytest.raises(Exception, match=message):
        client.predict(text, 1, 5, 0, 1.0, False, 1.0, 1.0, api_name="/generate")


def test_cli_predict_says_when_the_input_was_cut(tiny_bert2bert, capsys):
    from apps.cli import main

    _, folder, _ = tiny_bert2bert
    long = " ".join(["The fork() call creates a new process by duplicating the calling process."] * 4)
    arguments = ["predict", "summarization", "--model", str(folder), "--max_source_length", "16"]
    assert main([*arguments, "--max_new_tokens", "5", "--text", long]) == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    assert printed["input"]["cut"] and "the input was cut: the model read 16 of its" in printed["warning"]


@pytest.mark.parametrize("which", ["bert2bert", "marian"])
def test_lora_trains_new_joints_in_full_and_exports_a_merged_model(which, tiny_bert2bert, family_folder, tmp_path):
    from shared.training import fine_tune

    folder = str(tiny_bert2bert[1]) if which == "bert2bert" else str(family_folder("marian"))
    task = SummarizationTask()
    params = SummarizationParams(
        model=folder,
        data=str(summary_folder(tmp_path)),
        max_steps=3,
        peft="lora",
        eval_strategy="no",
        per_device_train_batch_size=4,
        num_beams=1,
        max_new_tokens=4,
    )
    result = fine_tune(task, params, None, tmp_path / "run", log=lambda message: None)
    assert 0 < result.trainable_parameters < result.total_parameters
    built = task.build(str(result.model_dir), params)  # the merged export loads like any model
    outputs = task.predict(built, task.load_examples(params, "test"), params, batch_size=4)
    assert len(outputs) == len(SUMMARIES)
    if which == "bert2bert":  # new cross-attention trains in full (modules_to_save), not as a low-rank update
        adapter = json.loads((result.run / "adapter" / "adapter_config.json").read_text())
        assert "crossattention" in adapter["modules_to_save"]


def test_new_joints_can_learn_faster_than_the_pretrained_parts(tiny_bert2bert, family_folder):
    _, folder, _ = tiny_bert2bert
    task = SummarizationTask()
    model = task.build(str(folder), SummarizationParams()).model
    assert task.optimizer(model, SummarizationParams()) is None  # Trainer's own optimizer
    optimizer = task.optimizer(model, SummarizationParams(learning_rate=1e-4, new_modules_learning_rate=1e-3))
    pretrained, new = optimizer.param_groups
    assert (pretrained["lr"], new["lr"]) == (1e-4, 1e-3)
    cross = {id(p) for n, p in model.named_parameters() if "crossattention" in n}
    assert cross <= {id(p) for p in new["params"]} and not cross & {id(p) for p in pretrained["params"]}
    marian = TranslationTask().build(family_folder("marian"), TranslationParams()).model
    with pytest.warns(UserWarning, match="no warm-start joints"):
        assert task.optimizer(marian, SummarizationParams(new_modules_learning_rate=1e-3)) is None
