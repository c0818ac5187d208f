"""Slow tests: compression of a really fine-tuned MiniLM-L6 QA model (shelf weights): int8 keeps its answers,
FFN pruning plus a short recovery keeps most of them."""

from __future__ import annotations

import pytest
from transformers import set_seed

from evaluation.harness import score
from shared import shelf
from shared.compression.quantization import quantize
from shared.compression.structured import prune_feed_forward
from shared.task_protocol import Built
from shared.training import fine_tune
from tasks.registry import get_task

pytestmark = pytest.mark.slow
TASK = get_task("question-answering")
HELD_OUT = 150


def _f1(model, tokenizer, params) -> float:
    examples = TASK.load_examples(params, "test").select(range(HELD_OUT))
    return score(TASK, TASK.predict(Built(model, tokenizer), examples, params, batch_size=32), examples, params)["f1"]


@pytest.fixture(scope="module")
def fine_tuned(in_shelf_home, tmp_path_factory):
    with in_shelf_home():
        path = shelf.prepare("minilm-l6")
    params = TASK.params_class(
        model=str(path),
        max_train_samples=3000,  # 2,000 is where the span head may not have learned yet (seed-dependent)
        max_seq_length=256,
        doc_stride=64,
        learning_rate=3e-4,
        warmup_ratio=0.1,
        num_train_epochs=1,
        eval_strategy="no",
        per_device_train_batch_size=16,
        seed=0,
        save_steps=1000,
    )
    set_seed(params.seed)
    result = fine_tune(TASK, params, None, tmp_path_factory.mktemp("qa-run"))
    return result.model_dir, params


def test_dynamic_int8_keeps_the_fine_tuned_answers(fine_tuned):
    model_dir, params = fine_tuned
    built = TASK.build(str(model_dir), params)
    model, tokenizer = built.model, built.processor
    fp32 = _f1(model, tokenizer, params)
    int8, report = quantize(model, "dynamic-int8")
    assert len(report.quantized_modules) == 6 * 6 + 1  # q, k, v, out, up, down per layer + the span head
    quantized = _f1(int8, tokenizer, params)
    print(f"F1 on {HELD_OUT} held-out questions: fp32 {fp32:.1f}, dynamic int8 {quantized:.1f}")
    assert fp32 >= 50 and abs(quantized - fp32) <= 2.0, (fp32, quantized)


def test_ffn_pruning_with_a_short_recovery_keeps_most_of_the_f1(fine_tuned, tmp_path):
    from shared.compression.pruning import SparsityCallback

    model_dir, params = fine_tuned
    built = TASK.build(str(model_dir), params)
    model, tokenizer = built.model, built.processor
    fp32 = _f1(model, tokenizer, params)
    prune_feed_forward(model, 0.3)
    assert model.config.intermediate_size == 1072  # 1536 * 0.7, to a multiple of 8
    pruned = _f1(model, tokenizer, params)
    model.save_pretrained(tmp_path / "pruned")
    tokenizer.save_pretrained(tmp_path / "pruned")
    recovery = params.model_copy(
        update={"model": str(tmp_path / "pruned"), "max_steps": 40, "warmup_ratio": 0.0, "learning_rate": 1e-4}
    )
    result = fine_tune(TASK, recovery, None, tmp_path / "recovery", callbacks=[SparsityCallback()])
    recovered_model = TASK.build(str(result.model_dir), recovery)
    recovered = _f1(recovered_model.model, recovered_model.processor, params)
    print(f"F1: fp32 {fp32:.1f}, FFN -30% {pruned:.1f}, after 40 recovery steps {recovered:.1f}")
    assert recovered >= fp32 - 5.0 and recovered >= pruned - 1.0, (fp32, pruned, recovered)
