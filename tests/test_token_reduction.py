"""Token merging and pruning on tiny random models: switched off they are the dense model exactly; importance
and kept sets on hand-built inputs; class and question tokens always survive; merging keeps the token-mass
bookkeeping; save/reload restores the setting; fine-tuning gets gradients; the demos answer with it on."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForImageClassification, Dinov2Config, Dinov2ForImageClassification

from shared.attention import token_reduction
from shared.attention.setup import configure_attention
from shared.errors import OmnituneError
from tasks.registry import get_task

QA = get_task("question-answering")
IMAGES = get_task("image-classification")


def _dino(**settings) -> Dinov2ForImageClassification:
    torch.manual_seed(0)
    model = Dinov2ForImageClassification(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=56,
            patch_size=14,
            num_labels=3,
        )
    ).eval()
    if settings:
        token_reduction.attach(model, settings)
    return model


@pytest.fixture
def qa_batch(padded_batch):
    ids, mask = padded_batch
    types = torch.zeros(2, 40, dtype=torch.long)
    types[:, 8:] = 1  # an 8-token question, then the context
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _qa(tiny_qa_model, **extra):
    return QA.build(str(tiny_qa_model), QA.params_class(model=str(tiny_qa_model), **extra)).model.eval()


def test_keeping_every_token_is_the_dense_model_exactly(tiny_qa_model, qa_batch):
    pixels = torch.rand(2, 3, 56, 56)
    dense = _dino()(pixel_values=pixels).logits
    for settings in ({"kind": "token-pruning", "keep_ratio": 1.0}, {"kind": "token-merging", "merge_per_layer": 0}):
        torch.testing.assert_close(_dino(**settings)(pixel_values=pixels).logits, dense, rtol=0, atol=0)
    with torch.inference_mode():
        dense_qa = _qa(tiny_qa_model)(**qa_batch).start_logits
        kept_all = _qa(tiny_qa_model, attention="token-pruning", keep_ratio=1.0)(**qa_batch).start_logits
    torch.testing.assert_close(kept_all, dense_qa, rtol=0, atol=0)


def test_pruning_keeps_protected_and_most_important_tokens_and_fuses_the_rest_by_importance():
    hidden = torch.randn(1, 6, 4)
    importance = torch.tensor([[0.05, 0.1, 0.3, 0.05, 0.9, 0.2]])
    tokens = token_reduction.Tokens(
        full=6, origin=torch.arange(6)[None], protected=torch.tensor([[True, False, False, False, False, False]])
    )
    # keep the protected first token + ceil(0.4 x 5) = 2 most important of the rest: positions 4 and 2
    reduced = token_reduction._prune(hidden, tokens, importance, keep_ratio=0.4, to_fused=True)
    assert reduced.shape == (1, 4, 4)
    torch.testing.assert_close(reduced[0, :3], hidden[0, [0, 2, 4]])
    weights = torch.tensor([0.1, 0.05, 0.2])
    fused = (hidden[0, [1, 3, 5]] * weights[:, None]).sum(0) / weights.sum()
    torch.testing.assert_close(reduced[0, 3], fused)
    assert tokens.origin.tolist() == [[0, 3, 1, 3, 2, 3]]  # dropped positions are held by the fused token (3)

    parked = token_reduction.Tokens(
        full=6, origin=torch.arange(6)[None], protected=torch.tensor([[True] + [False] * 5])
    )
    token_reduction._prune(hidden, parked, importance, keep_ratio=0.4, to_fused=False)
    assert parked.origin.tolist() == [[0, -1, 1, -1, 2, -1]]
    restored = parked.restore(torch.randn(1, 4, 4))
    torch.testing.assert_close(restored[0, [1, 3, 5]], hidden[0, [1, 3, 5]])  # their state when they left


def _attention_importance(query, key, protected: int) -> torch.Tensor:
    plan = token_reduction.Plan(kind="token-pruning", layers=3, keep_ratio=0.5, prune_layers=(1,), protected=protected)
    reducer = token_reduction.Reducer(plan)
    module = torch.nn.Module()
    setattr(module, token_reduction._REDUCER, (reducer, 0))
    reducer.before_layer(module, (torch.zeros(1, key.shape[2], 4),), {}, index=0)
    token_reduction.reducing_attention(module, query, key, torch.randn_like(key), None, scaling=1.0)
    return reducer.tokens.metric


def test_importance_is_the_attention_a_token_receives_from_the_protected_tokens_or_from_all():
    key = torch.zeros(1, 2, 5, 4)
    key[0, :, 3, 0] = 10.0  # key 3 stands out along dimension 0
    key[0, :, 2, 1] = 10.0  # key 2 along dimension 1
    query = torch.zeros(1, 2, 5, 4)
    query[0, :, 0, 0] = 1.0  # the class token's query looks along dimension 0
    query[0, :, 1:, 1] = 1.0  # every other query along dimension 1
    by_class_token = _attention_importance(query, key, protected=1)
    assert by_class_token.argmax().item() == 3 and by_class_token.sum().item() == pytest.approx(1.0)
    by_every_query = _attention_importance(query, key, protected=0)  # speech: nothing protected
    assert by_every_query.argmax().item() == 2 and by_every_query.sum().item() == pytest.approx(1.0)


def test_class_and_question_tokens_always_survive_pruning(tiny_qa_model, qa_batch):
    model = _qa(tiny_qa_model, attention="token-pruning", keep_ratio=0.1, prune_layers=[1])
    with torch.inference_mode():
        outputs = model(**qa_batch)
    assert outputs.start_logits.shape == (2, 40)  # every token still gets its logits
    last = token_reduction.layer_layouts(model)[-1]
    question = qa_batch["token_type_ids"] == 0
    assert (last[question] >= 0).all()
    context = ~question & qa_batch["attention_mask"].bool()
    assert (last[context] >= 0).sum() <= 2 * 4  # ceil(0.1 x (40 - 8)) = 4 context tokens per example


def test_merging_keeps_the_token_mass_and_merges_what_it_says():
    model = _dino(kind="token-merging", merge_per_layer=3)
    with torch.inference_mode():
        outputs = model(pixel_values=torch.rand(2, 3, 56, 56), output_hidden_states=True)
    layouts = token_reduction.layer_layouts(model)
    state = next(m for m in model.modules() if hasattr(m, token_reduction._REDUCER))
    tokens = getattr(state, token_reduction._REDUCER)[0].tokens
    assert [int(origin[0].max()) + 1 for origin in layouts] == [17, 14, 11, 8]  # 3 fewer tokens per layer
    assert tokens.sizes.sum(dim=1).tolist() == [17.0, 17.0]  # every position counted once
    counts = torch.stack([torch.bincount(origin, minlength=8) for origin in layouts[-1]])
    assert counts.tolist() == tokens.sizes.tolist()  # a token's size is the positions it holds
    assert layouts[-1][:, 0].tolist() == [0, 0]  # the class token is never merged
    assert all(states.shape[1] == 17 for states in outputs.hidden_states)  # back in the original layout


def test_token_reduction_is_saved_with_the_model_and_restored_on_load(tiny_vit, tmp_path):
    params = IMAGES.params_class(model=str(tiny_vit), attention="token-merging", merge_per_layer=4)
    vit = IMAGES.build(str(tiny_vit), params).model.eval()
    pixels = torch.rand(2, 3, 32, 32)
    reduced = vit(pixel_values=pixels).logits
    assert token_reduction.layer_layouts(vit)[-1].max() < 16  # tokens were merged
    vit.save_pretrained(tmp_path / "merged")
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path / "merged").eval()
    configure_attention(reloaded, IMAGES.params_class(), str(tmp_path / "merged"))  # no --attention given
    assert reloaded.config.omnitune_attention == {"kind": "token-merging", "merge_per_layer": 4}
    torch.testing.assert_close(reloaded(pixel_values=pixels).logits, reduced)


def test_pruned_models_fine_tune(tiny_qa_model, qa_batch):
    model = _qa(tiny_qa_model, attention="token-pruning", keep_ratio=0.5, prune_layers=[1]).train()
    outputs = model(**qa_batch, start_positions=torch.tensor([10, 12]), end_positions=torch.tensor([11, 14]))
    outputs.loss.backward()
    last_layer = model.bert.encoder.layer[-1].attention.self.query.weight
    assert last_layer.grad is not None and last_layer.grad.abs().sum() > 0


def test_bad_settings_are_clear_errors(tiny_qa_model, qa_batch):
    with pytest.raises(OmnituneError, match="prune_layers"):
        _dino(kind="token-pruning", keep_ratio=0.5, prune_layers=[4])
    with pytest.raises(OmnituneError, match="unpadded"):
        _qa(tiny_qa_model, attention="token-merging", merge_per_layer=2)(**qa_batch)


def test_the_image_explanation_shows_the_patches_kept(tiny_vit):
    from tasks.image_classification.explain import explanation_map

    params = IMAGES.params_class(model=str(tiny_vit), attention="token-pruning", keep_ratio=0.5, prune_layers=[1])
    vit = IMAGES.build(str(tiny_vit), params).model.eval()
    heat, kind = explanation_map(vit, torch.rand(1, 3, 32, 32), target=0)
    assert kind == "patches kept by token reduction" and heat.shape == (4, 4)
    assert sorted(set(heat.flatten().round(2).tolist())) == [0.5, 1.0]  # pruned after layer 1 of 2, or kept


def test_attention_command_draws_the_tokens_each_layer_kept(tiny_qa_model, tmp_path, capsys):
    from apps.cli import main

    command = ["attention", str(tiny_qa_model), "--task", "question-answering", "--text", "What does ls -l do?"]
    options = ["--out", str(tmp_path), "--attention", "token-pruning", "--keep_ratio", "0.5", "--prune_layers", "1"]
    assert main([*command, *options]) == 0
    assert "kept_tokens.png" in capsys.readouterr().out
    assert (tmp_path / "kept_tokens.png").stat().st_size > 1000


def test_whisper_hands_its_decoder_fewer_frames_and_still_transcribes(tmp_path):
    import numpy as np

    from tasks.speech_recognition.transcribe import timed_transcript, transcribe
    from tests.tiny_speech import save_tiny_whisper

    speech = get_task("automatic-speech-recognition")
    folder = save_tiny_whisper(tmp_path / "whisper", encoder_layers=2)
    params = speech.params_class(attention="token-pruning", keep_ratio=0.5, prune_layers=[1])
    built = speech.build(str(folder), params)
    model, processor = built.model.eval(), built.processor
    clip = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)
    features = processor.feature_extractor([clip], sampling_rate=16_000, return_tensors="pt").input_features
    with torch.inference_mode():
        frames = model.get_encoder()(features).last_hidden_state.shape[1]
    assert frames == 750 + 1  # half of the 1,500 frames, and the one they were fused into
    assert all(isinstance(text, str) for text in transcribe(model, processor, [clip], batch_size=1, max_new_tokens=4))
    with pytest.raises(OmnituneError, match="word timestamps need every encoder frame"):
        timed_transcript(model, processor, clip, level="word")
