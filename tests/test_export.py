"""`omnitune export`: a trained run as an ONNX graph (fp32, dynamic and static int8), checked against PyTorch,
then evaluated, predicted with and recorded exactly like a PyTorch run."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from apps import api
from apps.cli import main
from evaluation.leaderboard import Leaderboard
from shared.errors import OmnituneError
from shared.onnx_runtime import OnnxModel
from tests.conftest import bundled_subset

QUICK = {"max_seq_length": 96, "doc_stride": 32, "per_device_train_batch_size": 4, "eval_strategy": "no"}


@pytest.fixture
def qa_run(tiny_qa_model, tmp_path) -> Path:
    data = bundled_subset(tmp_path / "data", per_split=24)
    outcome = api.train(
        "question-answering", model=str(tiny_qa_model), data=str(data), max_steps=2, with_speed=False, **QUICK
    )
    return outcome.train.run


@pytest.mark.parametrize("quantize", ["none", "dynamic", "static"])
def test_an_exported_run_answers_like_its_parent_and_is_on_the_leaderboard(qa_run, quantize):
    facts = api.export(str(qa_run), quantize=quantize, calibration_examples=16)
    run = facts["run"]
    assert (run / "model" / "model.onnx").is_file() and not (run / "model" / "model-fp32.onnx").exists()
    assert not list((run / "model").glob("*.safetensors"))  # the graph is the model
    written = json.loads((run / "export.json").read_text())
    assert max(written["fp32_max_abs_diff"].values()) <= 1e-4
    assert set(written["fp32_max_abs_diff"]) == {"start_logits", "end_logits"}
    parent = json.loads((qa_run / "metrics.json").read_text())["test"]["metrics"]["f1"]
    exported = facts["report"]["metrics"]["f1"]
    if quantize == "none":
        assert exported == pytest.approx(parent, abs=0.1)  # the task metric through the harness, unchanged
    else:
        assert max(written["int8_max_abs_diff"].values()) > 0  # int8 is not bit-exact, and says by how much
    rows = Leaderboard().rows(task="question-answering")
    assert {row["run_id"] for row in rows} == {str(qa_run.resolve()), str(run.resolve())}
    row = next(r for r in rows if r["run_id"] == str(run.resolve()))
    assert row["base_model"] == str(qa_run.resolve()) and row["runtime"] == "onnxruntime"
    assert next(r for r in rows if r["run_id"] == str(qa_run.resolve()))["runtime"] == "pytorch"
    assert "ONNX Runtime" in (run / "model" / "README.md").read_text()

    answer = api.predict("question-answering", str(run), question="What does -l do?", context="-l\nlong listing")
    assert set(answer) >= {"text", "score"}
    from shared.loaded_models import loaded
    from shared.parameters import params_for_model
    from tasks.registry import get_task

    task = get_task("question-answering")
    built = loaded(task, str(run / "model"), params_for_model(task, str(run), None, {}))
    assert isinstance(built.model, OnnxModel) and built.model.graph_parameters() > 0
    # what Trainer-style code asks a model's forward for: the graph's inputs
    assert set(inspect.signature(built.model.forward).parameters) == set(built.model.input_names)


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_static_int8_calibrates_with_every_method_and_keeps_the_fragile_products_out(qa_run, method):
    """Calibration batches of different lengths (entropy and percentile crashed on them), and the scheme: the
    feed-forward output products (fed by GELU) quantized per batch, attention's activation products left fp32."""
    import onnx

    facts = api.export(str(qa_run), quantize="static", calibration_examples=16, calibration_method=method)
    written = json.loads((facts["run"] / "export.json").read_text())
    layers = 2  # the tiny BERT's
    assert written["int8"]["dynamic_after_activation"] == layers
    assert written["int8"]["fp32_between_activations"] == 2 * layers  # scores, and scores x values
    assert written["int8"]["fp32_output_layer"] == 1  # the span head
    card = (facts["run"] / "model" / "README.md").read_text()
    assert f"left fp32: between activations {2 * layers}, output layer 1" in card  # the card says what stayed fp32
    ops = [node.op_type for node in onnx.load(str(facts["run"] / "model" / "model.onnx")).graph.node]
    assert ops.count("DynamicQuantizeLinear") == layers and "QuantizeLinear" in ops
    assert method in written["int8"]["scheme"]
    assert 0.0 <= facts["report"]["metrics"]["f1"] <= 100.0


def test_static_int8_leaves_a_cnns_stem_depthwise_convolutions_and_head_in_fp32(tmp_path):
    """The layers whose int8 versions changed a fine-tuned EfficientNet-Lite0's answers (its head alone: 74% of
    them; stem and depthwise convolutions: 8% more) stay fp32; the pointwise convolution, where the work is, is
    int8."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from shared.onnx_quantization import fragile_nodes, quantize_static

    rng = np.random.default_rng(0)

    def weight(name, *shape):
        return numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Pad", ["pixel_values", "pads"], ["padded"], name="pad"),
        helper.make_node("Conv", ["padded", "w_stem"], ["stem_out"], name="stem", strides=[2, 2]),
        helper.make_node("Conv", ["stem_out", "w_dw"], ["dw_out"], name="depthwise", group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["dw_out", "w_pw"], ["pw_out"], name="pointwise"),
        helper.make_node("Relu", ["pw_out"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w_head", "b_head"], ["logits"], name="head", transB=1),
    ]
    initializers = [
        numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=np.int64), "pads"),
        weight("w_stem", 8, 3, 3, 3),
        weight("w_dw", 8, 1, 3, 3),
        weight("w_pw", 16, 8, 1, 1),
        weight("w_head", 4, 16),
        weight("b_head", 4),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    source = tmp_path / "cnn.onnx"
    onnx.save(model, str(source))

    roles = fragile_nodes(model.graph)
    assert (roles["stem"], roles["depthwise"], roles["output_layer"]) == (["stem"], ["depthwise"], ["head"])
    calibration = [{"pixel_values": rng.normal(size=(2, 3, 16, 16)).astype(np.float32)} for _ in range(4)]
    facts = quantize_static(source, tmp_path / "int8.onnx", calibration)
    assert (facts["fp32_stem"], facts["fp32_depthwise"], facts["fp32_output_layer"]) == (1, 1, 1)
    quantized = onnx.load(str(tmp_path / "int8.onnx")).graph
    dequantized_weights = {n.input[0] for n in quantized.node if n.op_type == "DequantizeLinear"}
    assert any(name.startswith("w_pw") for name in dequantized_weights)
    assert not any(name.startswith(("w_stem", "w_dw", "w_head")) for name in dequantized_weights)


def test_what_cannot_be_exported_is_refused_with_the_reason(qa_run, capsys):
    with pytest.raises(OmnituneError, match="already an exported model"):
        exported = api.export(str(qa_run))["run"]
        api.export(str(exported), task="question-answering")
    assert main(["export", str(qa_run), "--task", "summarization"]) == 2
    assert "not built yet" in capsys.readouterr().err
    runs = sorted(p.name for p in qa_run.parent.iterdir())
    assert len(runs) == 2  # the parent and the one good export: failed exports leave no folder


@pytest.mark.parametrize("mode", ["finetune", "linear-probe"])
def test_an_image_classifier_exports_with_its_processor_for_any_batch_size(tiny_vit, colour_folder, mode):
    import onnx

    # fine-tuned with the settings fine-tuned CNNs are bundled with (batch-norm statistics kept), which the
    # exported graph has no modules for; the probe with its mirrored views (which once pinned the batch size)
    settings = {"freeze_norm_statistics": True} if mode == "finetune" else {"probe_mirror": True, "probe_epochs": 5}
    trained = api.train(
        "image-classification", model=str(tiny_vit), data=str(colour_folder), mode=mode, max_steps=2, **settings
    )
    facts = api.export(str(trained.train.run), quantize="dynamic")
    written = json.loads((facts["run"] / "export.json").read_text())
    assert list(written["fp32_max_abs_diff"]) == ["logits"] and written["fp32_max_abs_diff"]["logits"] <= 1e-4
    assert (facts["run"] / "model" / "preprocessor_config.json").is_file()
    assert 0.0 <= facts["report"]["metrics"]["accuracy"] <= 100.0
    graph = onnx.load(str(facts["run"] / "model" / "model.onnx")).graph
    batch = graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value  # a named, free batch axis
