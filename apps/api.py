"""omnitune's Python API, the third way in beside the CLI and the demos (which are thin layers over it), so a
script gets exactly the defaults and checks the command line gets:

    import omnitune
    outcome = omnitune.train("question-answering", learning_rate=3e-4, max_steps=200)  # outcome.run: the folder
    scored = omnitune.evaluate("question-answering", outcome.run)
    answer = omnitune.predict("question-answering", outcome.run, question="...", context="...")
    facts = omnitune.compress(outcome.run, quantize="dynamic-int8")

Parameters are the task's own (Trainer's names: learning_rate, num_train_epochs, ...; see `omnitune train TASK
--help`), validated by the same pydantic models as a YAML file or the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.compression import Plan
from apps.compression import compress as compress_run
from apps.export import ExportPlan, export_run, remove_failed
from apps.export import check as check_exportable
from apps.pipeline import Outcome, base_model_and_licence, train_and_evaluate
from evaluation.audit import audit as audit_data
from evaluation.harness import Report, record
from evaluation.harness import evaluate as evaluate_on
from evaluation.leaderboard import Leaderboard
from shared import distributed
from shared import run_dir as layout
from shared.config import TrainParams, load_params, read_config
from shared.data_files import WHOLE, evaluation_split
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_card import add_bias_probe
from shared.output_monitor import monitored
from shared.parameters import params_for_model, resolve_params
from shared.task_protocol import Built, Task
from tasks.registry import get_task

Log = Callable[[str], None]


class Interrupted(Exception):
    """Training was interrupted (Ctrl-C); its checkpoints are in `run`."""

    def __init__(self, run: Path):
        super().__init__(f"interrupted; checkpoints are in {run / layout.CHECKPOINTS}")
        self.run = run


@dataclass
class Evaluation:
    report: Report
    leaderboard_row: int | None  # the row's id (None on processes other than the main one)


def leaderboard(db: str | None = None) -> Leaderboard | None:
    """The leaderboard, opened by the main process only: the one that writes rows."""
    return Leaderboard(db) if distributed.is_main() else None


def train(
    task: str,
    *,
    config: str | None = None,
    resume: bool | str = False,
    db: str | None = None,
    log: Log = print,
    with_speed: bool = True,
    **params: Any,
) -> Outcome:
    """Fine-tune `task` (bundled data and offline default model unless `data=` / `model=` say otherwise), evaluate
    the result on the test split and record it on the leaderboard. `resume`: True for the newest run of the task,
    or a run folder; it continues from the last checkpoint with the run's own settings."""
    spec = get_task(task)
    if resume:
        run = layout.run_to_resume(spec.name, resume if isinstance(resume, str) else params.get("output_dir"))
        settings = load_params(spec.params_class, run / layout.CONFIG)  # the run's own, for equivalence
        distributed.main_log(log)(f"resuming {run}")
    else:
        settings = resolve_params(spec, config, params)
        # one run folder for all processes: the main process names it
        run = distributed.from_main(
            lambda: (
                layout.claim_output_dir(settings.output_dir, settings.overwrite_output_dir, settings.model)
                if settings.output_dir
                else layout.new_run_dir(spec.name, settings.model or spec.default_model)
            )
        )
    try:
        return train_and_evaluate(
            spec, settings, run, resume=bool(resume), board=leaderboard(db), log=log, with_speed=with_speed
        )
    except KeyboardInterrupt:
        raise Interrupted(run) from None


def evaluate(
    task: str,
    model: str,
    *,
    split: str | None = None,
    config: str | None = None,
    with_speed: bool = True,
    db: str | None = None,
    log: Log = print,
    **params: Any,
) -> Evaluation:
    """Score `model` (a run folder, model folder, shelf entry or Hub id) on `split`, with the settings its run was
    trained with unless `params` say otherwise; recorded in the run's metrics.json and on the leaderboard.
    Without a split: the test split, or all of a single data file the model was not trained on."""
    spec = get_task(task)
    settings = params_for_model(spec, model, config, params)
    run = layout.run_of(model)
    if split is None:
        trained_on = read_config(run / layout.CONFIG).get("data") if run else None
        split = evaluation_split(settings.data, trained_on)
        if split == WHOLE:
            log(f"scoring every example of {settings.data} (one file; --split test scores only its held-out tenth)")
    report = evaluate_on(spec, model, settings, split=split, with_speed=with_speed, log=log)
    if run and report.probes and distributed.is_main():  # the run's model card states its bias figures too
        bias = report.probes["bias"]
        add_bias_probe(run / layout.MODEL, task=spec.name, dataset=report.dataset, split=report.split, probe=bias)
    base_model, _ = base_model_and_licence(settings.model if run else model)
    return Evaluation(report, record(report, spec, base_model=base_model, run=run, board=leaderboard(db)))


def audit(task: str, out: str | Path | None = None, *, config: str | None = None, log: Log = print, **params: Any):
    """Audit the data a training run with these parameters would use (bundled data unless `data=` says otherwise):
    the report is written to `out` (default ./data-audit/<task>); returns the findings."""
    spec = get_task(task)
    settings = resolve_params(spec, config, params)
    return audit_data(spec, settings, Path(out or Path("data-audit") / task), log=log)


def predict(task: str, model: str, *, config: str | None = None, **values: Any) -> dict[str, Any]:
    """Answer one input, given by the task's input names (question=..., context=...; image=path; audio=path;
    text=...), described as `omnitune predict` prints it."""
    spec = get_task(task)
    inputs = {name: values.pop(name, None) for name in spec.input_fields}
    settings = params_for_model(spec, model, config, values)
    example = checked_example(spec, inputs, settings)  # checked as the demo checks it, before the model loads
    return answer(spec, load_trained(spec, model, settings), settings, example)


def checked_example(spec: Task, inputs: dict[str, Any], settings: TrainParams) -> dict[str, list]:
    missing = [name for name in spec.input_fields if inputs.get(name) in (None, "")]
    if missing:
        raise OmnituneError(f"{spec.name} needs {', '.join(missing)}", f"give {', '.join(spec.input_fields)}")
    return spec.example_from_inputs(inputs, settings)


def load_trained(spec: Task, model: str, settings: TrainParams) -> Built:
    """The model built for prediction; refused when it lacks the task's trained head."""
    built = loaded(spec, model, settings)  # held in memory: the web app asks again and again
    built.require_trained(model, spec.name)
    return built


def answer(spec: Task, built: Built, settings: TrainParams, example: dict[str, list]) -> dict[str, Any]:
    described = spec.describe_answer(spec.predict(built, example, settings, batch_size=1)[0], built, settings)
    inputs = {name: values[0] for name, values in example.items() if name in spec.input_fields}
    return monitored(spec, inputs, {**described, **spec.describe_input(example, built, settings)}, settings)


def compress(
    model: str,
    *,
    task: str | None = None,
    output_dir: str | None = None,
    config: str | None = None,
    db: str | None = None,
    log: Log = print,
    plan: Plan | None = None,
    **settings: Any,
) -> dict:
    """Quantize and/or prune `model` into a new run folder, evaluated and recorded like any run. The plan is
    given as keywords (quantize="dynamic-int8", prune="magnitude", sparsity=0.5, ffn_ratio=0.3, head_ratio=0.25,
    recovery_steps=200, ...: see Plan) or as a Plan; other keywords are task parameters."""
    spec = get_task(task or task_of_run(model))
    plan = plan or Plan(**_plan_fields(Plan, settings))
    plan.check()
    params = params_for_model(spec, model, config, settings)
    run = distributed.from_main(lambda: _derived_run(spec, model, output_dir, params, plan.suffix()))
    return {**compress_run(spec, model, plan, params, run, board=leaderboard(db), log=log), "run": run}


def _plan_fields(plan_class, settings: dict[str, Any]) -> dict[str, Any]:
    """The keywords that belong to the plan, taken out of `settings` (the rest are task parameters)."""
    return {name: settings.pop(name) for name in list(settings) if name in plan_class.__dataclass_fields__}


def _derived_run(spec: Task, model: str, output_dir: str | None, params: TrainParams, suffix: str) -> Path:
    """The run folder of a model made from another (compressed, exported): --output_dir, or <parent>-<suffix>."""
    if output_dir:
        return layout.claim_output_dir(output_dir, params.overwrite_output_dir, source=model)
    return layout.new_run_dir(spec.name, f"{Path(model).name}-{suffix}")


def export(
    model: str,
    *,
    task: str | None = None,
    output_dir: str | None = None,
    config: str | None = None,
    db: str | None = None,
    log: Log = print,
    plan: ExportPlan | None = None,
    **settings: Any,
) -> dict:
    """Export `model` to ONNX (quantize="dynamic" | "static" for int8 by ONNX Runtime) into a new run folder,
    checked against PyTorch, evaluated and recorded like any run. Other keywords are task parameters."""
    spec = get_task(task or task_of_run(model))
    plan = plan or ExportPlan(**_plan_fields(ExportPlan, settings))
    check_exportable(spec, plan)
    params = params_for_model(spec, model, config, settings)
    run = _derived_run(spec, model, output_dir, params, plan.suffix())
    try:
        return {**export_run(spec, model, plan, params, run, board=leaderboard(db), log=log), "run": run}
    except BaseException:
        remove_failed(run)  # no half-written run folder among the runs
        raise


def task_of_run(model: str) -> str:
    """The task a run folder was trained for, as its evaluation recorded it."""
    for report in layout.read_metrics(layout.run_of(model)).values():
        if isinstance(report, dict) and report.get("task"):
            return report["task"]
    raise OmnituneError(
        "cannot tell which task this model is for (no evaluated run folder)",
        "name the task, e.g. --task question-answering",
    )
