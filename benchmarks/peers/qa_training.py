"""Row 1: QA fine-tuning, omnitune's `train question-answering` vs transformers' run_qa.py recipe (run_qa.py here).

Same base model (MiniLM-L6), same 4,000 bundled training questions, learning rate, batch, warm-up, steps and
seed. Each side keeps its own windows as a user runs it: omnitune 256-token windows (stride 64), padded per
batch, batches of similar length, attention dropout off while fine-tuning (omnitune's default); run_qa.py
384-token windows (stride 128), every window padded to 384, the model's own attention dropout (0.1).
Both models are scored by the same evaluator (omnitune's span decoding and SQuAD v2 metric, each at its own
window size) on the test questions at fixed steps, with the clock paused while scoring: time to reach the
target F1 is training time only.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

SCALES = {
    "full": {"steps": 275, "train_questions": 4000, "test_questions": None, "score_at": tuple(range(100, 276, 25))},
    "quick": {"steps": 4, "train_questions": 80, "test_questions": 40, "score_at": (4,)},
}
TARGET_F1 = 90.0
BASE_MODEL = "minilm-l6"


class ScoreClock(TrainerCallback):
    """Times every optimizer step and pauses at `score_at` steps to score the model on the test questions; the
    scoring time is kept out of the training time. Training stops once the target F1 is reached (the row's
    question is the time to reach it; the peer's steps are slow)."""

    def __init__(self, score_at: tuple[int, ...], score):
        self.score_at, self.score = set(score_at), score
        self.step_seconds: list[float] = []
        self.curve: list[dict] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_started = time.perf_counter()

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.step_seconds.append(time.perf_counter() - self.step_started)
        if state.global_step % 10 == 0:  # progress (the peer runs with Trainer's bar off, as scripts log)
            print(f"[qa_training] step {state.global_step} of {state.max_steps}", flush=True)
        if state.global_step in self.score_at:
            model.eval()
            f1 = self.score(model)
            model.train()
            self.curve.append(
                {"step": state.global_step, "train_seconds": round(sum(self.step_seconds), 2), "test_f1": f1}
            )
            print(f"[qa_training] step {state.global_step}: test F1 {f1}, {sum(self.step_seconds):.0f} s", flush=True)
            control.should_training_stop = f1 >= TARGET_F1


def _scorer(task, tokenizer, examples, params):
    from evaluation.metrics import score
    from shared.task_protocol import Built

    def test_f1(model) -> float:
        answers = task.predict(Built(model, tokenizer), examples, params, batch_size=64)
        return round(score(task, answers, examples, params)["f1"], 2)

    return test_f1


def _setting(scale: str):
    from shared.parameters import resolve_params
    from tasks.registry import get_task

    task = get_task("question-answering")
    s = SCALES[scale]
    params = resolve_params(
        task,
        overrides={
            "max_steps": s["steps"],
            "max_train_samples": s["train_questions"],
            "eval_strategy": "no",
            "save_steps": 10**6,  # neither side writes checkpoints inside the timed steps
            "max_train_minutes": 120.0,
            "logging_steps": 10**6,
        },
    )
    test = task.load_examples(params, "test")
    if s["test_questions"]:
        test = test.select(range(s["test_questions"]))
    return task, params, test, s


def omnitune(scale: str, fixture: dict) -> dict:
    from shared.training import fine_tune

    task, params, test, s = _setting(scale)
    params = params.model_copy(update={"model": BASE_MODEL})
    clock = ScoreClock(s["score_at"], None)
    built = {}

    def keep(made) -> None:  # the scorer needs the tokenizer the run builds
        built["it"] = made
        clock.score = _scorer(task, made.processor, test, params)

    with tempfile.TemporaryDirectory() as run:
        result = fine_tune(task, params, None, Path(run), log=lambda _: None, callbacks=[clock], prepare=keep)
    windows = len(task.features(task.load_examples(params, "train"), built["it"], params, for_eval=False))
    return _summary(clock, params, windows, result.stopped_by_budget, params.max_seq_length, params.doc_stride)


def run_qa_recipe(scale: str, fixture: dict) -> dict:
    import run_qa
    from transformers import AutoTokenizer, TrainingArguments

    from shared.pretrained import resolve

    task, params, test, s = _setting(scale)
    peer_params = params.model_copy(update={"max_seq_length": run_qa.MAX_SEQ_LENGTH, "doc_stride": run_qa.DOC_STRIDE})
    model_path = resolve(BASE_MODEL)
    clock = ScoreClock(s["score_at"], _scorer(task, AutoTokenizer.from_pretrained(model_path), test, peer_params))
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            learning_rate=params.learning_rate,
            per_device_train_batch_size=params.per_device_train_batch_size,
            max_steps=params.max_steps,
            warmup_steps=params.warmup_ratio,
            weight_decay=params.weight_decay,
            seed=params.seed,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            disable_tqdm=True,
        )
        _, _, windows = run_qa.train(model_path, task.load_examples(params, "train"), args, callbacks=[clock])
    return _summary(clock, params, windows, False, run_qa.MAX_SEQ_LENGTH, run_qa.DOC_STRIDE)


def _summary(clock: ScoreClock, params, windows: int, stopped: bool, window: int, stride: int) -> dict:
    seconds = sum(clock.step_seconds)
    steps = len(clock.step_seconds)
    reached = next((p for p in clock.curve if p["test_f1"] >= TARGET_F1), None)
    return {
        "window_tokens": window,
        "doc_stride": stride,
        "training_windows": windows,
        "steps": steps,
        "train_seconds": round(seconds, 2),
        "median_step_seconds": round(statistics.median(clock.step_seconds), 3),
        "step_seconds_quartiles": [round(q, 3) for q in statistics.quantiles(clock.step_seconds, n=4)]
        if steps > 1
        else [],
        "training_windows_per_second": round(steps * params.per_device_train_batch_size / seconds, 2),
        "test_f1_by_step": clock.curve,
        "final_test_f1": clock.curve[-1]["test_f1"] if clock.curve else None,
        "seconds_to_target_f1": reached["train_seconds"] if reached else None,
        "stopped_by_time_limit": stopped,
    }


SIDES = {"omnitune": omnitune, "run_qa_recipe": run_qa_recipe}
PEER = "run_qa_recipe"


REPEATS = {"full": 1, "quick": 1}  # a full training per side; the spread is the steps' own


def compare(sides: dict[str, list[dict]]) -> dict:
    ours, peer = sides["omnitune"][0], sides[PEER][0]
    to_target = (ours["seconds_to_target_f1"], peer["seconds_to_target_f1"])
    step_ratio = round(peer["median_step_seconds"] / ours["median_step_seconds"], 2)
    target_line = {
        "measure": f"training seconds to test F1 >= {TARGET_F1:g}",
        "omnitune": to_target[0],
        "peer": to_target[1]
        if to_target[1]
        else f"not reached in {peer['steps']} steps ({peer['train_seconds']:.0f} s)",
        "ratio": round(to_target[1] / to_target[0], 2) if all(to_target) else None,
        "goal": 1.3,
        "quality": f"test F1 {ours['final_test_f1']} at step {ours['steps']} / {peer['final_test_f1']} at step "
        f"{peer['steps']}",
    }
    if to_target[0] and not to_target[1]:  # the peer never got there: its whole run is a lower bound
        target_line["ratio_at_least"] = round(peer["train_seconds"] / to_target[0], 2)
        target_line["met"] = target_line["ratio_at_least"] >= target_line["goal"]
    return {
        "target_f1": TARGET_F1,
        "speed_ratio_to_target_f1": target_line["ratio"],
        "speed_ratio_step_time": step_ratio,
        "headlines": [
            target_line,
            {
                "measure": "median seconds per training step (16 questions' windows)",
                "omnitune": ours["median_step_seconds"],
                "peer": peer["median_step_seconds"],
                "ratio": step_ratio,
                "goal": None,
                "quality": f"peak RSS {ours['peak_rss_mb']} / {peer['peak_rss_mb']} MB",
            },
        ],
    }
