"""Slow tests: the warm-started encoder-decoders built from the real offline MiniLM-L6 and Whisper base weights."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from shared import shelf
from shared.training import fine_tune
from tasks.registry import all_tasks, get_task

all_tasks()  # the whole shelf: every task registers the entries it builds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def warm_started(in_shelf_home):
    with in_shelf_home():
        return {
            name: shelf.prepare(name) for name in ("minilm-l6", "whisper-base", "minilm2minilm", "minilm2whisper-base")
        }


def test_minilm2whisper_carries_both_pretrained_halves_and_a_new_projection(warm_started):
    from transformers import AutoModelForSeq2SeqLM

    import tasks.seq2seq.whisper_text_decoder  # noqa: F401  (registers the decoder's model type)

    model = AutoModelForSeq2SeqLM.from_pretrained(warm_started["minilm2whisper-base"])
    minilm = load_file(str(warm_started["minilm-l6"] / "model.safetensors"))
    whisper = load_file(str(warm_started["whisper-base"] / "model.safetensors"))
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight, minilm["embeddings.word_embeddings.weight"])
    assert torch.equal(
        model.encoder.encoder.layer[5].output.dense.weight, minilm["encoder.layer.5.output.dense.weight"]
    )
    decoder = model.decoder.model.decoder
    for name in ("layers.0.encoder_attn.k_proj.weight", "layers.5.self_attn.q_proj.weight", "embed_tokens.weight"):
        assert torch.equal(decoder.get_parameter(name), whisper[f"model.decoder.{name}"]), name
    assert model.enc_to_dec_proj.in_features == 384 and model.enc_to_dec_proj.out_features == 512
    provenance = model.config.omnitune_warm_start
    assert provenance["joint"]["new_modules"] == ["enc_to_dec_proj"]
    assert provenance["decoder"]["new_parameters"] == 0 and "whisper-base" in provenance["decoder"]["from"]


def _mean_loss(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        return model(**batch).loss.item()


@pytest.mark.parametrize(
    "task_name,entry,steps", [("translation", "minilm2whisper-base", 60), ("summarization", "minilm2minilm", 60)]
)
def test_brief_training_lowers_held_out_loss(warm_started, task_name, entry, steps, tmp_path):
    task = get_task(task_name)
    params = task.params_class(
        model=str(warm_started[entry]),
        max_train_samples=600,
        max_eval_samples=64,
        learning_rate=1e-4,
        warmup_ratio=0.05,
        max_steps=steps,
        eval_strategy="no",
        per_device_train_batch_size=8,
        max_source_length=256,
        save_steps=1000,
        seed=0,
    )
    held_out = task.load_examples(params, "eval")

    def held_out_loss(folder) -> float:
        built = task.build(str(folder), params)
        model = built.model
        features = task.features(held_out, built, params, for_eval=False)
        batch = task.collator(built, params)([features[i] for i in range(len(features))])
        return _mean_loss(model, batch)

    before = held_out_loss(warm_started[entry])
    result = fine_tune(task, params, None, tmp_path / "run")
    after = held_out_loss(result.model_dir)
    print(f"{task_name}: held-out loss {before:.2f} -> {after:.2f} after {steps} steps")
    assert after < before - 0.5, (before, after)
    card = json.loads((result.model_dir / "config.json").read_text())["omnitune_warm_start"]
    assert card["pairing"] in ("bert2bert", "bert2whisper")
