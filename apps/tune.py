"""`omnitune tune TASK`: hyperparameter search with Optuna (TPE sampler; median or Hyperband pruning fed by the
validation metric during training). Every trial is a normal run folder; trials are chosen on the validation
split only, and the best one is scored on the test split once, at the end. The study lives in a database
(SQLite next to the leaderboard by default, any SQLAlchemy URL), so `--resume` after kill -9 loses at most the
trial that was running, and several machines can work on one study. With `--objective validation+latency` the
study has two objectives and returns their Pareto front. A report (trials table, parameter importance by
fANOVA, optimisation history, the Pareto front) is written to the study's folder."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
import sqlalchemy
from transformers import TrainerCallback

from apps import api
from apps.pipeline import base_model_and_licence, scorer_for
from evaluation.harness import Report, record
from evaluation.harness import evaluate as evaluate_on
from evaluation.leaderboard import Leaderboard, shown
from evaluation.metrics import higher_is_better
from shared import run_dir as layout
from shared.errors import OmnituneError
from shared.parameters import resolve_params
from shared.paths import omnitune_home, runs_root
from shared.plots import plt
from shared.search_space import Space, parse_space, read_space
from shared.task_protocol import Task
from tasks.registry import get_task

# the plots, stale-trial cleanup and heartbeats used here are marked experimental by Optuna; users need not see it
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

Objective = Literal["validation", "validation+latency"]
LATENCY = "latency_p50_ms"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class StudyResult:
    study: str
    folder: Path  # the report
    best_run: str
    best_params: dict[str, Any]
    best_validation: float
    test: Report | None = None
    pareto: list[dict[str, Any]] = field(default_factory=list)  # validation+latency: the front, best metric first


def default_storage() -> str:
    omnitune_home().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{omnitune_home() / 'tune.db'}"


def tune(
    task_name: str,
    *,
    trials: int = 10,
    timeout_minutes: float | None = None,
    space: str | None = None,
    objective: Objective = "validation",
    pruner: Literal["median", "hyperband", "none"] = "median",
    study: str | None = None,
    storage: str | None = None,
    resume: bool = False,
    config: str | None = None,
    db: str | None = None,
    log: Callable[[str], None] = print,
    **overrides: Any,
) -> StudyResult:
    task = get_task(task_name)
    base = resolve_params(task, config, overrides)
    if base.eval_strategy == "no" and task.scores_during_training:
        base = base.model_copy(update={"eval_strategy": "epoch"})  # pruning needs the validation metric as it goes
    dimensions = (
        read_space(space, task.params_class)
        if space
        else parse_space(task.search_space(base), task.params_class, where=f"{task.name}'s default search space")
    )
    name = study or f"{task.name}-{Path(base.model or task.default_model).name}"
    primary = task.primary_metric
    directions = ["maximize" if higher_is_better(primary, task.metric) else "minimize"]
    if objective == "validation+latency":
        directions.append("minimize")
    optuna_study = _open_study(name, storage or default_storage(), directions, resume, pruner, base.seed, trials)
    done = [t for t in optuna_study.trials if t.state in FINISHED]
    remaining = max(0, trials - len(done))
    log(
        f"study '{name}': {len(done)} trials finished, {remaining} to run (of {trials}); searching "
        + ", ".join(dimensions)
    )
    if not done and not any(t.state == optuna.trial.TrialState.WAITING for t in optuna_study.trials):
        _start_from_the_defaults(optuna_study, base, dimensions, log)
    board = Leaderboard(db)
    run_trial = _objective(task, base, dimensions, objective, board, log)
    if remaining:
        optuna_study.optimize(run_trial, n_trials=remaining, timeout=timeout_minutes and timeout_minutes * 60)
        if timeout_minutes and len([t for t in optuna_study.trials if t.state in FINISHED]) < trials:
            log(f"the {timeout_minutes:g}-minute safety limit stopped the study before {trials} trials")
    return _finish(task, optuna_study, name, objective, db, log)


def _start_from_the_defaults(study, base, dimensions: Space, log) -> None:
    """The first trial is the task's own default settings when the space holds them, so a study is never
    chosen from worse settings than the user had without it, and every other trial is compared with them."""
    defaults = {name: getattr(base, name) for name in dimensions}
    if all(dimension.contains(defaults[name]) for name, dimension in dimensions.items()):
        study.enqueue_trial(defaults, skip_if_exists=True)
        log(f"trial 0 is the default: {json.dumps(defaults)}")


def _open_study(name: str, url: str, directions: list[str], resume: bool, pruner: str, seed: int, trials: int):
    try:
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    except (ImportError, ValueError, sqlalchemy.exc.SQLAlchemyError) as error:
        raise OmnituneError(
            f"cannot open the study database {shown(url)}: {str(error).splitlines()[0][:200]}",
            "check --storage (a SQLAlchemy URL, e.g. sqlite:////path/tune.db) and that its driver is installed",
        ) from None
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    if name in existing and not resume and existing[name].n_trials:
        raise OmnituneError(
            f"study '{name}' already has {existing[name].n_trials} trials in {url}",
            "continue it with --resume, or start another with --study NAME",
        )
    if resume and name not in existing:
        raise OmnituneError(f"no study '{name}' in {url} to resume", "drop --resume to start it")
    if resume:
        optuna.storages.fail_stale_trials(optuna.load_study(study_name=name, storage=storage))
    pruning = {
        "median": optuna.pruners.MedianPruner(n_startup_trials=2),
        "hyperband": optuna.pruners.HyperbandPruner(),
        "none": optuna.pruners.NopPruner(),
    }[pruner if len(directions) == 1 else "none"]  # Optuna prunes single-objective studies only
    return optuna.create_study(
        study_name=name,
        storage=storage,
        directions=directions,
        # TPE samples at random for its first n_startup_trials (Optuna's default 10): a 6-trial study would be a
        # random search throughout, so a third of the trials (at least 2) explore and the rest are guided
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, trials // 3))),
        pruner=pruning,
        load_if_exists=True,
    )


class _ReportToTrial(TrainerCallback):
    """Hands each validation score to the trial; a trial its pruner finds hopeless stops here."""

    def __init__(self, trial: optuna.Trial, key: str):
        self.trial, self.key, self.reports = trial, key, 0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or self.key not in metrics:
            return
        self.trial.report(metrics[self.key], state.global_step)
        self.reports += 1
        # never on a trial's first evaluation: a new span head or decoder learns late, and a trial that would
        # have been the best was measured pruned there (README)
        if self.reports > 1 and self.trial.should_prune():
            raise optuna.TrialPruned(f"validation {self.key} {metrics[self.key]:.4g} at step {state.global_step}")


def _objective(task: Task, base, dimensions: Space, objective: Objective, board: Leaderboard, log):
    primary = task.primary_metric
    single = objective == "validation"

    def run_trial(trial: optuna.Trial):
        values = {name: dimension.suggest(trial, name) for name, dimension in dimensions.items()}
        params = task.params_class.model_validate({**base.model_dump(), **values})
        run = layout.new_run_dir(task.name, params.model or task.default_model)
        trial.set_user_attr("run", str(run))
        log(f"\ntrial {trial.number}: {json.dumps(values)} -> {run}")
        pruning = [_ReportToTrial(trial, f"eval_{primary}")] if single and task.scores_during_training else []
        result = task.train(params, scorer_for(task, params), run, log=log, callbacks=pruning)
        report = evaluate_on(task, str(result.model_dir), params, split="eval", with_speed=not single, log=log)
        report.model = str(run.resolve())
        record(report, task, base_model=base_model_and_licence(result.base_model)[0], run=run, board=board)
        value = float(report.metrics[primary])
        log(f"trial {trial.number}: validation {primary} {value:.4g}")
        return value if single else (value, float(getattr(report.speed, LATENCY)))

    return run_trial


def _finish(task: Task, study, name: str, objective: Objective, db: str | None, log) -> StudyResult:
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise OmnituneError(f"study '{name}' has no completed trial", "run more trials (--trials) or widen the space")
    maximise = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    front = study.best_trials if objective != "validation" else [study.best_trial]
    best = sorted(front, key=lambda t: t.values[0], reverse=maximise)[0]
    folder = runs_root() / task.name / f"tune-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    log(f"\nbest trial {best.number}: validation {task.primary_metric} {best.values[0]:.4g}; now its test score")
    test = api.evaluate(task.name, best.user_attrs["run"], split="test", db=db, log=log).report
    result = StudyResult(
        name,
        folder,
        best.user_attrs["run"],
        dict(best.params),
        best.values[0],
        test,
        [{"trial": t.number, "values": t.values, "params": t.params, "run": t.user_attrs["run"]} for t in front],
    )
    _write_report(study, task, result, objective)
    log(f"report: {folder / 'report.md'}")
    return result


def _write_report(study, task: Task, result: StudyResult, objective: Objective) -> None:
    folder = result.folder
    study.trials_dataframe().to_csv(folder / "trials.csv", index=False)
    importance = _importance(study)
    (folder / "importance.json").write_text(json.dumps(importance, indent=2))
    pictures = {"history.png": optuna.visualization.matplotlib.plot_optimization_history}
    if objective != "validation":
        pictures = {"pareto_front.png": optuna.visualization.matplotlib.plot_pareto_front}
    for file_name, draw in pictures.items():
        kwargs = {"target_names": [task.primary_metric, LATENCY]} if file_name == "pareto_front.png" else {}
        axes = draw(study, **kwargs)
        axes.figure.savefig(folder / file_name, dpi=90, bbox_inches="tight")
        plt.close(axes.figure)
    states = {state.name.lower(): 0 for state in optuna.trial.TrialState}
    for trial in study.trials:
        states[trial.state.name.lower()] += 1
    test_score = result.test.metrics.get(task.primary_metric) if result.test else None
    lines = [
        f"# Study {result.study}",
        "",
        f"- task: {task.name}; objective: {objective}; trials: "
        + ", ".join(f"{n} {state}" for state, n in states.items() if n),
        f"- best trial: validation {task.primary_metric} {result.best_validation:.4g}, test "
        + (f"{task.primary_metric} {test_score:.4g}" if test_score is not None else "not scored"),
        f"- its run folder: {result.best_run}",
        f"- its parameters: `{json.dumps(result.best_params)}`",
        "- parameter importance (fANOVA): "
        + (", ".join(f"{k} {v:.2f}" for k, v in importance.items()) or "needs two completed trials"),
        "",
        "trials.csv holds every trial; " + ", ".join(pictures) + " the picture.",
    ]
    (folder / "report.md").write_text("\n".join(lines) + "\n")


def _importance(study) -> dict[str, float]:
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2 or len(study.directions) > 1:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()}
    except (RuntimeError, ValueError):  # e.g. every trial had the same parameters
        return {}
