"""Efficient attention on tiny random models: sliding window equals dense attention under the same mask,
Linformer with identity projections equals dense, padding, gradients, save/load through a task, and every
plugged family (BERT, ViT, DINOv2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import (
    AutoModelForImageClassification,
    AutoModelForQuestionAnswering,
    Dinov2Config,
    Dinov2ForImageClassification,
)

from shared.attention import linformer, sparse
from shared.attention.positions import extend_positions
from shared.attention.setup import configure_attention
from shared.errors import OmnituneError
from tasks.registry import get_task

QA = get_task("question-answering")


@pytest.mark.parametrize(("length", "window", "global_tokens"), [(50, 8, 1), (64, 16, 0), (33, 5, 3), (7, 16, 2)])
def test_sliding_window_equals_dense_attention_under_the_equivalent_mask(length, window, global_tokens):
    torch.manual_seed(length)
    query, key, value = (torch.randn(2, 3, length, 8) for _ in range(3))
    keep = torch.ones(2, length, dtype=torch.bool)
    keep[1, length - 4 :] = False  # the second sequence ends in padding
    output = sparse.banded_attention(query, key, value, window, global_tokens, keep)
    mask = sparse.dense_equivalent_mask(length, window, global_tokens, keep)
    reference = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    real = keep[:, None, :, None].expand_as(output)
    torch.testing.assert_close(output[real], reference[real], rtol=1e-5, atol=1e-5)


def test_sliding_window_gradients_equal_the_dense_ones():
    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 2, 40, 8, requires_grad=True) for _ in range(3))
    keep = torch.ones(2, 40, dtype=torch.bool)
    keep[1, 30:] = False
    real = keep[:, None, :, None].float()
    (sparse.banded_attention(query, key, value, 6, 3, keep) * real).sum().backward()
    banded = [t.grad.clone() for t in (query, key, value)]
    for t in (query, key, value):
        t.grad = None
    mask = sparse.dense_equivalent_mask(40, 6, 3, keep)
    (F.scaled_dot_product_attention(query, key, value, attn_mask=mask) * real).sum().backward()
    for ours, dense in zip(banded, (query.grad, key.grad, value.grad)):
        torch.testing.assert_close(ours, dense, rtol=1e-5, atol=1e-5)


def _qa_params(model, **extra):
    return QA.params_class(model=str(model), **extra)


def _qa_logits(model, ids, mask):
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask)
    return torch.stack([out.start_logits, out.end_logits])


def test_a_window_wider_than_the_input_gives_the_dense_model_exactly(tiny_qa_model, padded_batch):
    ids, mask = padded_batch
    dense = QA.build(str(tiny_qa_model), _qa_params(tiny_qa_model)).model
    windowed = QA.build(
        str(tiny_qa_model), _qa_params(tiny_qa_model, attention="sliding-window", attention_window=64)
    ).model
    assert windowed.config._attn_implementation == sparse.NAME
    real = mask.bool()[None].expand(2, -1, -1)
    torch.testing.assert_close(
        _qa_logits(windowed, ids, mask)[real], _qa_logits(dense, ids, mask)[real], rtol=1e-5, atol=1e-5
    )
    narrow = QA.build(
        str(tiny_qa_model), _qa_params(tiny_qa_model, attention="sliding-window", attention_window=4)
    ).model
    assert not torch.allclose(_qa_logits(narrow, ids, mask), _qa_logits(dense, ids, mask), atol=1e-4)


@pytest.mark.parametrize("sharing", linformer.SHARING)
def test_linformer_with_identity_projections_is_dense_attention(tiny_qa_model, padded_batch, sharing):
    ids, mask = padded_batch
    dense = AutoModelForQuestionAnswering.from_pretrained(tiny_qa_model).eval()
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_qa_model).eval()
    added = linformer.attach(model, 512, 512, sharing, identity=True)
    per_layer = 512 * 512 * (2 if sharing == "head" else 1) * (1 if sharing == "key-value" else 2)
    assert added == 2 * per_layer  # two layers
    real = mask.bool()[None].expand(2, -1, -1)
    torch.testing.assert_close(
        _qa_logits(model, ids, mask)[real], _qa_logits(dense, ids, mask)[real], rtol=1e-5, atol=1e-5
    )


def test_linformer_projections_learn_and_survive_save_and_load_through_the_task(tiny_qa_model, padded_batch, tmp_path):
    ids, mask = padded_batch
    params = _qa_params(tiny_qa_model, attention="linformer", linformer_k=16)
    built = QA.build(str(tiny_qa_model), params)
    model, tokenizer = built.model, built.processor
    projection = model.bert.encoder.layer[0].attention.self.linformer_keys
    assert projection.shape == (16, 512)
    torch.testing.assert_close(projection.sum(dim=1), torch.ones(16))  # segment means
    out = model(
        input_ids=ids, attention_mask=mask, start_positions=torch.tensor([1, 2]), end_positions=torch.tensor([3, 4])
    )
    out.loss.backward()
    assert projection.grad is not None and projection.grad.abs().sum() > 0  # the new parameters train
    with torch.no_grad():
        projection.add_(0.01)  # as if adapted
    model.save_pretrained(tmp_path / "linformer")
    tokenizer.save_pretrained(tmp_path / "linformer")
    reloaded = QA.build(str(tmp_path / "linformer"), _qa_params(tmp_path / "linformer")).model  # no --attention
    assert reloaded.config._attn_implementation == linformer.NAME
    torch.testing.assert_close(reloaded.bert.encoder.layer[0].attention.self.linformer_keys, projection)
    torch.testing.assert_close(_qa_logits(reloaded, ids, mask), _qa_logits(model.eval(), ids, mask))


def test_linformer_refuses_inputs_longer_than_it_was_built_for(tiny_qa_model):
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_qa_model).eval()
    linformer.attach(model, 8, 32)
    with pytest.raises(OmnituneError, match="longer than this Linformer's 32"):
        model(input_ids=torch.randint(5, 100, (1, 40)))
    with pytest.raises(OmnituneError, match="between 1 and the maximum length"):
        linformer.attach(model, 64, 32)


@pytest.mark.parametrize("attention", ["linformer", "sliding-window"])
def test_vision_transformers_take_efficient_attention_too(tiny_vit, tmp_path, attention):
    image_task = get_task("image-classification")
    params = image_task.params_class(model=str(tiny_vit), attention=attention, linformer_k=8, attention_window=4)
    vit = image_task.build(str(tiny_vit), params).model
    assert vit(pixel_values=torch.rand(2, 3, 32, 32)).logits.shape == (2, 3)
    dino = Dinov2ForImageClassification(
        Dinov2Config(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=56, patch_size=14, num_labels=3
        )
    )
    configure_attention(dino, params, str(tmp_path))
    assert dino(pixel_values=torch.rand(2, 3, 56, 56)).logits.shape == (2, 3)
    dino.save_pretrained(tmp_path / "dino")
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path / "dino")
    configure_attention(reloaded, image_task.params_class(), str(tmp_path / "dino"))
    pixels = torch.rand(1, 3, 56, 56)
    torch.testing.assert_close(reloaded.eval()(pixel_values=pixels).logits, dino.eval()(pixel_values=pixels).logits)


def test_long_qa_contexts_are_read_in_one_window_once_the_position_table_has_grown(tiny_qa_model, tmp_path):
    from datasets import Dataset

    params = _qa_params(
        tiny_qa_model,
        max_seq_length=1024,
        doc_stride=128,
        max_positions=1024,
        attention="sliding-window",
        attention_window=32,
    )
    built = QA.build(str(tiny_qa_model), params)
    model, tokenizer = built.model, built.processor
    context = " ".join(["The fork call creates a new process by duplicating the calling process."] * 35)  # ~800
    examples = Dataset.from_list(
        [
            {
                "id": "q",
                "title": "t",
                "question": "What does fork do?",
                "context": context,
                "answers": {"text": ["creates a new process"], "answer_start": [9]},
            }
        ]
    )
    windows = QA.features(examples, built, params, for_eval=True)
    assert len(windows) == 1 and 512 < len(windows[0]["input_ids"]) <= 1024  # one pass, past 512 tokens
    assert model.config.max_position_embeddings == 1024
    model.save_pretrained(tmp_path / "long")
    tokenizer.save_pretrained(tmp_path / "long")
    reloaded_tokenizer = QA.build(str(tmp_path / "long"), _qa_params(tmp_path / "long", max_seq_length=1024)).processor
    assert reloaded_tokenizer.model_max_length == 1024  # the saved model keeps its reach


def test_position_tables_grow_by_copying_and_leave_the_first_positions_alone(tiny_qa_model, tmp_path):
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_qa_model).eval()
    ids = torch.randint(5, 2000, (1, 100))
    before = _qa_logits(model, ids, torch.ones_like(ids))
    original = model.bert.embeddings.position_embeddings.weight.detach().clone()
    assert extend_positions(model, 1200) == 512
    table = model.bert.embeddings.position_embeddings.weight
    assert table.shape == (1200, 32) and torch.equal(table[:512], original)
    assert torch.equal(table[700], original[700 - 512])
    torch.testing.assert_close(_qa_logits(model, ids, torch.ones_like(ids)), before)
    long_ids = torch.randint(5, 2000, (1, 1100))
    assert _qa_logits(model, long_ids, torch.ones_like(long_ids)).shape == (2, 1, 1100)
    model.save_pretrained(tmp_path / "long")
    assert AutoModelForQuestionAnswering.from_pretrained(tmp_path / "long").config.max_position_embeddings == 1200


@pytest.mark.parametrize(
    ("options", "picture"),
    [
        ([], "attention_maps.png"),
        (["--attention", "sliding-window", "--attention_window", "4"], "sparsity_pattern.png"),
        (["--attention", "linformer", "--linformer_k", "16"], "linformer_projections.png"),
    ],
)
def test_attention_command_draws_what_each_kind_of_attention_is(tiny_qa_model, tmp_path, capsys, options, picture):
    from PIL import Image

    from apps.cli import main

    assert (
        main(
            [
                "attention",
                str(tiny_qa_model),
                "--task",
                "question-answering",
                "--text",
                "What does ls -l do?",
                "--out",
                str(tmp_path),
                *options,
            ]
        )
        == 0
    )
    assert picture in capsys.readouterr().out
    with Image.open(tmp_path / picture) as image:
        assert image.width > 200 and image.height > 150
