"""Compression on tiny random models: int8 quantization (torchao), unstructured and FFN pruning, the recovery
callback, and `omnitune compress` end to end."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    Dinov2Config,
    Dinov2ForImageClassification,
)

from apps.cli import main
from apps.compression import training_batches
from conftest import bundled_subset
from evaluation.leaderboard import Leaderboard
from shared.compression.pruning import (
    SparsityCallback,
    cubic_sparsity,
    prunable_linears,
    prune_unstructured,
    taylor_importance,
)
from shared.compression.quantization import is_quantized, quantize
from shared.compression.structured import feed_forward_pairs, prune_feed_forward
from shared.errors import OmnituneError
from shared.pretrained import resolve
from shared.task_protocol import Built
from tasks.registry import get_task

QA = get_task("question-answering")


def _inputs(seed=0, batch=2, length=24):
    generator = torch.Generator().manual_seed(seed)
    return {
        "input_ids": torch.randint(5, 2000, (batch, length), generator=generator),
        "attention_mask": torch.ones(batch, length, dtype=torch.long),
    }


def _logits(model, inputs):
    with torch.inference_mode():
        out = model(**inputs)
    return torch.cat([out.start_logits, out.end_logits], dim=-1)


@pytest.fixture
def qa_model(tiny_qa_model):
    return AutoModelForQuestionAnswering.from_pretrained(tiny_qa_model).eval()


@pytest.mark.parametrize("scheme", ["dynamic-int8", "weight-int8"])
def test_int8_model_is_close_to_fp32_and_reloads_quantized_without_quantizing_again(qa_model, tmp_path, scheme):
    quantized, report = quantize(qa_model, scheme)
    linears = [n for n, m in qa_model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert sorted(report.quantized_modules) == sorted(linears)  # every Linear, the QA head included
    assert all("embeddings" in name for name in report.fp32_modules)  # said plainly: embeddings stay fp32
    inputs = _inputs()
    reference, output = _logits(qa_model, inputs), _logits(quantized, inputs)
    assert output.shape == reference.shape
    assert (output - reference).abs().max() < 0.1 * reference.abs().max()
    quantized.save_pretrained(tmp_path / "int8")
    reloaded = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "int8")
    assert is_quantized(reloaded.bert.encoder.layer[0].attention.self.query.weight)
    torch.testing.assert_close(_logits(reloaded, inputs), output, rtol=0, atol=0)


def test_an_int8_model_is_refused_clearly_without_torchao_or_with_another_version(qa_model, tmp_path, monkeypatch):
    import importlib.metadata

    quantized, _ = quantize(qa_model, "dynamic-int8")
    quantized.config.omnitune_compression = {"torchao_version": "0.3.0"}
    quantized.save_pretrained(tmp_path / "int8")
    with pytest.raises(OmnituneError, match=r"torchao 0\.3\.0; this runtime has") as error:
        resolve(str(tmp_path / "int8"))
    assert "pip install torchao==0.3.0" in error.value.fix
    real_version = importlib.metadata.version

    def without_torchao(name):
        if name == "torchao":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", without_torchao)
    with pytest.raises(OmnituneError, match="torchao, which is not installed"):
        resolve(str(tmp_path / "int8"))


def test_global_magnitude_pruning_zeros_the_smallest_weights_and_the_zeros_survive_save_and_load(qa_model, tmp_path):
    layers = prunable_linears(qa_model, QA.head_modules)
    assert "qa_outputs" not in layers and layers  # the new task head is left whole
    threshold = torch.cat([m.weight.abs().flatten() for m in layers.values()]).quantile(0.5)
    report = prune_unstructured(qa_model, 0.5, "magnitude", QA.head_modules)
    assert report.achieved == pytest.approx(0.5, abs=0.01)
    assert len(set(report.per_layer.values())) > 1  # ranked globally: layers give up different shares
    for layer in layers.values():
        kept = layer.weight[layer.weight != 0]
        assert kept.abs().min() >= threshold * 0.999
    assert not hasattr(layers["bert.encoder.layer.0.output.dense"], "weight_mask")  # masks made permanent
    qa_model.save_pretrained(tmp_path / "pruned")
    reloaded = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "pruned")
    for name, layer in prunable_linears(reloaded, QA.head_modules).items():
        assert torch.equal(layer.weight == 0, layers[name].weight == 0), name


def test_taylor_pruning_keeps_the_weights_the_loss_depends_on(qa_model, tiny_qa_model, tmp_path):
    from transformers import AutoTokenizer

    params = QA.params_class(
        model=str(tiny_qa_model), data=str(bundled_subset(tmp_path / "data", 16)), max_seq_length=96, doc_stride=32
    )
    built = Built(qa_model, AutoTokenizer.from_pretrained(tiny_qa_model))
    layers = prunable_linears(qa_model, QA.head_modules)
    scores = taylor_importance(qa_model, training_batches(QA, built, params, 16, 4), layers)
    assert all(score.sum() > 0 for score in scores.values())  # every layer got gradients
    magnitude_mask = {n: m.weight.abs() for n, m in layers.items()}
    report = prune_unstructured(qa_model, 0.3, "taylor", QA.head_modules, scores)
    assert report.achieved == pytest.approx(0.3, abs=0.01)
    threshold = torch.cat([s.flatten() for s in scores.values()]).quantile(0.3)
    for name, layer in layers.items():
        assert scores[name][layer.weight != 0].min() >= threshold * 0.999  # kept: the important ones
    by_magnitude = torch.cat([w.flatten() for w in magnitude_mask.values()])
    kept = torch.cat([(layer.weight != 0).flatten() for layer in layers.values()])
    assert not torch.equal(kept, by_magnitude > by_magnitude.quantile(0.3))  # a different choice than magnitude


def test_ffn_pruning_removes_the_neurons_it_ranks_lowest_and_nothing_else(qa_model, tmp_path):
    original = AutoModelForQuestionAnswering.from_config(qa_model.config)
    original.load_state_dict(qa_model.state_dict())
    original.eval()
    pairs = feed_forward_pairs(original)
    assert [(u, d) for u, _, d, _ in pairs] == [
        (f"bert.encoder.layer.{i}.intermediate.dense", f"bert.encoder.layer.{i}.output.dense") for i in range(2)
    ]
    scores = [up.weight.norm(dim=1) * down.weight.norm(dim=0) for _, up, _, down in pairs]
    report = prune_feed_forward(qa_model, 0.5)
    assert (report.neurons_before, report.neurons_after) == (64, 32)
    assert qa_model.config.intermediate_size == 32
    # silencing the removed neurons in the original gives exactly the pruned model's outputs
    with torch.no_grad():
        for (_, up, _, _), score in zip(pairs, scores):
            removed = score.argsort()[:32]
            up.weight[removed] = 0
            up.bias[removed] = 0  # GELU(0) = 0: a silenced neuron adds nothing
    inputs = _inputs()
    torch.testing.assert_close(_logits(qa_model, inputs), _logits(original, inputs), rtol=1e-5, atol=1e-5)
    qa_model.save_pretrained(tmp_path / "ffn")
    reloaded = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "ffn")
    assert reloaded.bert.encoder.layer[0].intermediate.dense.out_features == 32
    torch.testing.assert_close(_logits(reloaded, inputs), _logits(qa_model, inputs), rtol=0, atol=0)


def test_ffn_pruning_of_vision_transformers_states_the_new_width_in_their_config(tiny_vit, tmp_path):
    from transformers import AutoModelForImageClassification

    vit = AutoModelForImageClassification.from_pretrained(tiny_vit)
    prune_feed_forward(vit, 0.25)
    assert vit.config.intermediate_size == 48
    dino = Dinov2ForImageClassification(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            mlp_ratio=4,
            image_size=28,
            patch_size=14,
            num_labels=3,
        )
    )
    dino.config.intermediate_size = 128  # unused by DINOv2, but present in the shelf's converted config
    prune_feed_forward(dino, 0.3)  # 30% of 128 -> 89.6, to a whole multiple of hidden_size: 96 = 3 x 32
    dino.save_pretrained(tmp_path / "dino")
    reloaded = Dinov2ForImageClassification.from_pretrained(tmp_path / "dino")
    assert reloaded.dinov2.encoder.layer[0].mlp.fc1.out_features == 96 and reloaded.config.mlp_ratio == 3
    assert reloaded(pixel_values=torch.rand(1, 3, 28, 28)).logits.shape == (1, 3)


def test_models_without_a_feed_forward_width_are_refused_with_the_alternative(tiny_bert2bert):
    _, _, model = tiny_bert2bert
    with pytest.raises(OmnituneError, match="feed-forward") as error:
        prune_feed_forward(model, 0.3)
    assert "unstructured" in error.value.fix


def test_cubic_schedule_rises_fast_then_slowly_to_the_target():
    values = [cubic_sparsity(step, 0, 30, 0.6) for step in range(0, 40, 5)]
    assert values[0] == 0 and values[-1] == values[-2] == 0.6
    assert all(a < b for a, b in zip(values[:-2], values[1:-1]))
    assert values[1] - values[0] > values[5] - values[4]


def test_recovery_keeps_the_zeros_and_gradual_pruning_reaches_its_target(tiny_qa_model, tmp_path):
    from shared.training import fine_tune

    data = bundled_subset(tmp_path / "data", 16)
    params = QA.params_class(
        model=str(tiny_qa_model),
        data=str(data),
        max_seq_length=96,
        doc_stride=32,
        per_device_train_batch_size=4,
        max_steps=6,
        save_steps=100,
        eval_strategy="no",
        learning_rate=1e-3,
    )
    held = SparsityCallback(QA.head_modules)
    model = QA.build(str(tiny_qa_model), params).model
    prune_unstructured(model, 0.5, "magnitude", QA.head_modules)
    model.save_pretrained(tmp_path / "pruned")
    QA.build(str(tiny_qa_model), params).processor.save_pretrained(tmp_path / "pruned")
    result = fine_tune(
        QA, params.model_copy(update={"model": str(tmp_path / "pruned")}), None, tmp_path / "held", callbacks=[held]
    )
    trained = AutoModelForQuestionAnswering.from_pretrained(result.model_dir)
    for name, layer in prunable_linears(trained, QA.head_modules).items():
        assert torch.equal(layer.weight != 0, held.masks[name]), name  # zeros stayed zeros, nothing else did
    gradual = SparsityCallback(QA.head_modules, target=0.6, gradual_until=4, every=2)
    result = fine_tune(QA, params, None, tmp_path / "gradual", callbacks=[gradual])
    trained = AutoModelForQuestionAnswering.from_pretrained(result.model_dir)
    layers = prunable_linears(trained, QA.head_modules)
    zeros = sum(int((m.weight == 0).sum()) for m in layers.values())
    assert zeros / sum(m.weight.numel() for m in layers.values()) == pytest.approx(0.6, abs=0.01)


def test_compress_command_makes_an_evaluated_run_next_to_its_parent(tiny_qa_model, tmp_path, capsys):
    data = bundled_subset(tmp_path / "data", 24)
    parent = tmp_path / "runs" / "parent"
    common = ["--data", str(data), "--max_seq_length", "96", "--doc_stride", "32"]
    assert (
        main(
            [
                "train",
                "question-answering",
                "--model",
                str(tiny_qa_model),
                *common,
                "--max_steps",
                "2",
                "--eval_strategy",
                "no",
                "--output_dir",
                str(parent),
            ]
        )
        == 0
    )
    child = tmp_path / "runs" / "child"
    assert (
        main(
            [
                "compress",
                str(parent),
                "--prune",
                "magnitude",
                "--sparsity",
                "0.4",
                "--recovery_steps",
                "2",
                "--quantize",
                "dynamic-int8",
                "--output_dir",
                str(child),
            ]
        )
        == 0
    )  # the task is read from the run
    assert "test split: f1" in capsys.readouterr().out
    facts = json.loads((child / "compression.json").read_text())
    assert facts["unstructured_pruning"]["achieved"] == pytest.approx(0.4, abs=0.01)
    assert facts["quantization"]["scheme"] == "dynamic-int8" and facts["parent"] == str(parent.resolve())
    assert (child / "model" / "README.md").read_text().count("dynamic-int8") >= 1
    reloaded = AutoModelForQuestionAnswering.from_pretrained(child / "model")
    assert is_quantized(reloaded.bert.encoder.layer[0].output.dense.weight)
    rows = {row["run_id"]: row for row in Leaderboard().rows(task="question-answering")}
    assert rows[str(child.resolve())]["base_model"] == str(parent.resolve())
    assert rows[str(child.resolve())]["latency_p50_ms"] > 0
    both = tmp_path / "runs" / "both"  # structured, then Taylor-ranked unstructured on the shrunk matrices
    assert (
        main(
            [
                "compress",
                str(parent),
                "--ffn_ratio",
                "0.5",
                "--importance",
                "taylor",
                "--prune",
                "taylor",
                "--sparsity",
                "0.3",
                "--calibration_examples",
                "8",
                "--output_dir",
                str(both),
            ]
        )
        == 0
    )
    facts = json.loads((both / "compression.json").read_text())
    assert facts["ffn_pruning"]["neurons_after"] == 32 and facts["unstructured_pruning"]["achieved"] > 0.29
    assert main(["compress", str(parent), "--prune", "magnitude", "--gradual"]) == 2  # needs recovery steps
    assert "--recovery_steps" in capsys.readouterr().err


def test_demo_header_states_size_latency_and_how_the_model_was_compressed(tmp_path):
    from shared.model_facts import model_facts

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    (run / "model" / "model.safetensors").write_bytes(b"\0" * 2_500_000)
    (run / "config.yaml").write_text("model: /runs/qa-parent\n")  # what makes a folder a run
    (run / "metrics.json").write_text(
        json.dumps({"test": {"speed": {"latency_p50_ms": 31.2, "throughput": 59.1, "best_batch": 8}}})
    )
    (run / "compression.json").write_text(
        json.dumps(
            {
                "parent": "/runs/qa-parent",
                "plan": {"ffn_ratio": 0.3, "prune": None, "sparsity": 0.5, "quantize": "dynamic-int8"},
            }
        )
    )
    line = model_facts(str(run))
    assert "size on disk 2.5 MB" in line and "latency p50 31.2 ms" in line
    assert "compressed (FFN -30%, dynamic-int8) from `qa-parent`" in line


def test_a_warm_started_summarizer_prunes_and_quantizes_and_still_generates(tiny_bert2bert, tmp_path):
    from datasets import Dataset

    summarization = get_task("summarization")
    _, folder, _ = tiny_bert2bert
    params = summarization.params_class(max_new_tokens=5, num_beams=1)
    built = summarization.build(str(folder), params)
    model, tokenizers = built.model, built.processor
    pruned = prune_unstructured(model, 0.5, "magnitude", summarization.head_modules)
    assert not any("crossattention" in name for name in pruned.per_layer)  # the new joints stay whole
    quantized, report = quantize(model, "dynamic-int8")
    assert "decoder.cls.predictions.decoder" in report.fp32_modules  # tied to the embeddings: left as it is
    quantized.save_pretrained(tmp_path / "int8")
    tokenizers.save_pretrained(tmp_path / "int8")
    built = summarization.build(str(tmp_path / "int8"), params)
    assert is_quantized(built.model.encoder.encoder.layer[0].attention.self.query.weight)
    outputs = summarization.predict(
        built,
        Dataset.from_list([{"source": "The fork call creates a new process.", "target": "create a process"}]),
        params,
        1,
    )
    assert len(outputs) == 1 and isinstance(outputs[0], str)


def _tiny_dino(heads=4):
    torch.manual_seed(0)
    return Dinov2ForImageClassification(
        Dinov2Config(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=heads, image_size=28, patch_size=14, num_labels=3
        )
    ).eval()


def test_head_pruning_removes_the_least_important_heads_and_states_it_in_the_config(tmp_path):
    from shared.compression.heads import head_importance, prune_heads

    model = _tiny_dino()
    original = _tiny_dino()
    batches = [
        {
            "pixel_values": torch.rand(4, 3, 28, 28, generator=torch.Generator().manual_seed(i)),
            "labels": torch.tensor([0, 1, 2, 0]),
        }
        for i in range(2)
    ]
    scores = head_importance(model, batches)
    assert all(score.shape == (4,) and score.sum() > 0 for score in scores.values())
    report = prune_heads(model, 0.5, scores)
    for name, removed in report.removed.items():
        assert removed == sorted(scores[name].argsort()[:2].tolist())  # the two least important of each layer
    assert (model.config.num_attention_heads, model.config.head_dim) == (2, 8)
    # silencing the removed heads in the original (their columns of the output projection) gives the same model
    with torch.no_grad():
        for name, removed in report.removed.items():
            o_proj = original.get_submodule(name).o_proj
            for head in removed:
                o_proj.weight[:, head * 8 : (head + 1) * 8] = 0
    pixels = torch.rand(2, 3, 28, 28)
    torch.testing.assert_close(
        model(pixel_values=pixels).logits, original(pixel_values=pixels).logits, rtol=1e-5, atol=1e-5
    )
    model.save_pretrained(tmp_path / "heads")
    reloaded = Dinov2ForImageClassification.from_pretrained(tmp_path / "heads")
    assert reloaded.dinov2.encoder.layer[0].attention.q_proj.out_features == 16
    torch.testing.assert_close(reloaded(pixel_values=pixels).logits, model(pixel_values=pixels).logits)


def test_head_pruning_of_bert_is_refused_with_the_alternative(qa_model):
    from shared.compression.heads import attention_blocks

    with pytest.raises(OmnituneError, match="head size") as error:
        attention_blocks(qa_model)
    assert "--ffn_ratio" in error.value.fix
