"""The `omnitune` command line. Every sub-command prints a clear message, not a traceback, for user errors.

omnitune quickstart                                   fine-tune + evaluate every task on its offline defaults
omnitune train TASK [--config FILE] [--resume] [--learning_rate 3e-5 ...] [--num_processes N]
omnitune tune TASK [--trials N] [--space space.yaml] [--objective validation|validation+latency] [--resume]
omnitune evaluate TASK --model RUN_OR_FOLDER [--data PATH] [--split test] [--probes bias]
omnitune audit TASK [--data PATH] [--out DIR]        data audit: balance, duplicates, leakage, outliers, skew
omnitune predict TASK --model RUN_OR_FOLDER --question ... --context ...
omnitune push RUN --repo_id user/name [--private] [--dry_run]   upload the model folder to the Hub
omnitune leaderboard [--task T] [--dataset D] [--sort COLUMN] [--serve]
omnitune demo TASK --model RUN_OR_FOLDER [--port 7860]
omnitune export RUN --format onnx [--quantize dynamic|static]   ONNX Runtime model, as a new evaluated run
omnitune app [--host 127.0.0.1] [--port 7860] [--auth user:password]   models, try, train, leaderboard in one page
omnitune models list | prepare NAME|--all | verify [NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from shared import distributed
from shared import run_dir as layout
from shared.config import from_text
from shared.errors import OmnituneError
from shared.paths import omnitune_home, runs_root

DEFAULT_HOST = "127.0.0.1"

DB_HELP = "leaderboard database: a SQLite file path or a SQLAlchemy URL (default: SQLite in OMNITUNE_HOME)"


def parse_overrides(tokens: list[str], params_class) -> dict[str, Any]:
    """`--key value`, `--key=value` and bare `--flag` into a dict. A parameter's value is read as its declared type
    by pydantic (shared.config.from_text), the validation a YAML file gets; task inputs (--question ...) stay
    text, and unknown keys are left for load_params to reject with a suggestion."""
    fields = params_class.model_fields
    values: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--"):
            raise OmnituneError(f"unexpected argument '{token}'", "options look like --learning_rate 3e-5")
        key, has_value, value = token[2:].partition("=")
        key = key.replace("-", "_")
        if not has_value and (index + 1 == len(tokens) or tokens[index + 1].startswith("--")):
            value = "true"  # a bare flag
        elif not has_value:
            index += 1
            value = tokens[index]
        values[key] = from_text(key, value, fields[key].annotation) if key in fields else value
        index += 1
    return values


def cmd_train(args, extra: list[str]) -> int:
    from apps import api
    from tasks.registry import get_task

    if args.num_processes or args.accelerate_config:
        from apps.launch import relaunch_with_accelerate

        return relaunch_with_accelerate(args.argv, args.num_processes, args.accelerate_config)
    task = get_task(args.task)
    overrides = parse_overrides(extra, task.params_class)
    try:
        outcome = api.train(task.name, config=args.config, resume=args.resume, db=args.db, **overrides)
    except api.Interrupted as interrupted:
        if distributed.is_main():
            print(
                f"\ninterrupted. Checkpoints are in {interrupted.run / layout.CHECKPOINTS}; continue with:\n"
                f"  omnitune train {task.name} --resume {interrupted.run}",
                file=sys.stderr,
            )
        return 130
    if distributed.is_main():
        _print_outcome(outcome)
    return 0


def cmd_tune(args, extra: list[str]) -> int:
    from apps.tune import tune
    from tasks.registry import get_task

    task = get_task(args.task)
    result = tune(
        task.name,
        trials=args.trials,
        timeout_minutes=args.timeout,
        space=args.space,
        objective=args.objective,
        pruner=args.pruner,
        study=args.study,
        storage=args.storage,
        resume=args.resume,
        config=args.config,
        db=args.db,
        **parse_overrides(extra, task.params_class),
    )
    test = result.test.metrics.get(task.primary_metric) if result.test else None
    print(f"\nbest run:   {result.best_run}")
    print(f"parameters: {json.dumps(result.best_params)}")
    print(f"validation {task.primary_metric} {result.best_validation:.4g}; test {test:.4g}" if test is not None else "")
    for point in result.pareto if args.objective != "validation" else []:
        print(f"  Pareto front: trial {point['trial']}: {point['values']}  {point['run']}")
    print(f"report:     {result.folder / 'report.md'}")
    return 0


def _print_outcome(outcome) -> None:
    report = outcome.report
    shown = {k: v if isinstance(v, str) else round(v, 2) for k, v in report.metrics.items()}
    print(f"\nrun folder: {outcome.train.run}")
    print(f"model:      {outcome.train.model_dir}")
    print(f"test split: {json.dumps(shown)}")
    if report.baseline:
        numbers = {k: round(v, 2) for k, v in report.baseline["metrics"].items() if not isinstance(v, str)}
        print(f"baseline:   {report.baseline['name']}: {json.dumps(numbers)}")
    if report.speed:
        print(
            f"speed:      p50 {report.speed.latency_p50_ms:.1f} ms/example at batch 1, "
            f"{report.speed.throughput:.1f} examples/s at batch {report.speed.best_batch}"
        )


def cmd_evaluate(args, extra: list[str]) -> int:
    from apps import api
    from tasks.registry import get_task

    overrides = parse_overrides(extra, get_task(args.task).params_class)
    scored = api.evaluate(
        args.task,
        args.model,
        split=args.split,
        config=args.config,
        with_speed=not args.no_speed,
        db=args.db,
        **overrides,
    )
    if distributed.is_main():
        print(json.dumps({**scored.report.to_json(), "leaderboard_row": scored.leaderboard_row}, indent=2, default=str))
    return 0


def cmd_audit(args, extra: list[str]) -> int:
    from apps import api
    from tasks.registry import get_task

    found = api.audit(
        args.task, args.out, config=args.config, **parse_overrides(extra, get_task(args.task).params_class)
    )
    return 0 if not (args.strict and found.warnings) else 3


def cmd_compress(args, extra: list[str]) -> int:
    from apps import api
    from apps.compression import Plan
    from tasks.registry import get_task

    task = get_task(args.task or api.task_of_run(args.model))
    plan = Plan(
        quantize=args.quantize,
        prune=args.prune,
        sparsity=args.sparsity,
        ffn_ratio=args.ffn_ratio,
        head_ratio=args.head_ratio,
        importance=args.importance,
        recovery_steps=args.recovery_steps,
        gradual=args.gradual,
        calibration_examples=args.calibration_examples,
    )
    facts = _derived_run(api.compress, args, task, plan, extra)
    if not distributed.is_main():
        return 0
    report = facts["report"]
    parent_metrics = (layout.read_metrics(layout.run_of(args.model)).get("test") or {}).get("metrics", {})
    print(f"\nrun folder: {facts['run']}")
    print(
        f"test split: {task.primary_metric} {report['metrics'][task.primary_metric]:.2f}"
        + (f" (parent {parent_metrics[task.primary_metric]:.2f})" if task.primary_metric in parent_metrics else "")
    )
    print(f"size:       {report['size_mb']:.1f} MB on disk, {facts['zlib_compressed_mb']:.1f} MB zlib-compressed")
    _print_speed(report)
    return 0


def _derived_run(make, args, task, plan, extra: list[str]) -> dict:
    """`omnitune compress` / `export`: a model made from args.model by `make` (api.compress, api.export)."""
    return make(
        args.model,
        task=task.name,
        output_dir=args.output_dir,
        config=args.config,
        db=args.db,
        plan=plan,
        **parse_overrides(extra, task.params_class),
    )


def _print_speed(report: dict) -> None:
    if report["speed"]:
        print(
            f"speed:      p50 {report['speed']['latency_p50_ms']:.1f} ms at batch 1, "
            f"{report['speed']['throughput']:.1f} examples/s at batch {report['speed']['best_batch']}"
        )


def cmd_export(args, extra: list[str]) -> int:
    from apps import api
    from apps.export import ExportPlan
    from tasks.registry import get_task

    task = get_task(args.task or api.task_of_run(args.model))
    plan = ExportPlan(
        format=args.format,
        quantize=args.quantize,
        calibration_examples=args.calibration_examples,
        calibration_method=args.calibration_method,
    )
    facts = _derived_run(api.export, args, task, plan, extra)
    report = facts["report"]
    print(f"\nrun folder: {facts['run']}  ({facts['size_mb']} MB graph, exported in {facts['export_seconds']} s)")
    print(f"test split: {task.primary_metric} {report['metrics'][task.primary_metric]:.2f}")
    _print_speed(report)
    return 0


def cmd_push(args, extra: list[str]) -> int:
    from apps.push import files_to_push, model_to_push, push

    if args.dry_run:
        folder = model_to_push(args.model)
        print(f"would push from {folder} to {args.repo_id}:")
        print("\n".join(f"  {name}" for name in files_to_push(folder)))
        return 0
    print(f"pushed: {push(args.model, args.repo_id, private=args.private)}")
    return 0


def cmd_predict(args, extra: list[str]) -> int:
    from apps import api
    from tasks.registry import get_task

    task = get_task(args.task)
    values = parse_overrides(extra, task.params_class)
    missing = [f"--{name}" for name in task.input_fields if values.get(name) in (None, "")]
    if missing:
        raise OmnituneError(
            f"{task.name} needs {', '.join(missing)}",
            f"e.g. omnitune predict {task.name} " + " ".join(f'--{n} "..."' for n in task.input_fields),
        )
    print(json.dumps(api.predict(task.name, args.model, config=args.config, **values), indent=2, ensure_ascii=False))
    return 0


def cmd_leaderboard(args, extra: list[str]) -> int:
    from evaluation.leaderboard import Leaderboard, as_table

    board = Leaderboard(args.db)
    if args.serve:
        from apps.leaderboard_app import build_leaderboard_app
        from apps.serving import launch

        launch(build_leaderboard_app(board), args.host, args.port)
        return 0
    print_leaderboard(as_table(board.rows(task=args.task, dataset=args.dataset, sort_by=args.sort)))
    return 0


def print_leaderboard(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    columns = (
        "task",
        "model",
        "dataset",
        "split",
        "primary_metric",
        "score",
        "size_mb",
        "latency_p50_ms",
        "throughput",
        "created_at",
        "id",
    )  # the CLI table keeps to what fits a terminal
    table = Table(title=f"omnitune leaderboard ({len(rows)} evaluations)")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("task", "created_at", "score"))
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console(width=os.get_terminal_size().columns if sys.stdout.isatty() else 200).print(table)


def cmd_attention(args, extra: list[str]) -> int:
    from apps import api
    from shared.attention import visualise
    from shared.parameters import params_for_model
    from shared.pretrained import resolve
    from tasks.registry import get_task

    task = get_task(args.task or api.task_of_run(args.model))
    params = params_for_model(task, args.model, None, parse_overrides(extra, task.params_class))
    built = task.build(resolve(args.model, params.allow_pickle), params)
    kind, written = visualise.picture(built.model, built.processor, args.text, Path(args.out))
    print(f"{kind} attention: {written}")
    return 0


def cmd_demo(args, extra: list[str]) -> int:
    from apps.demos import build_demo
    from shared.parameters import params_for_model
    from tasks.registry import get_task

    task = get_task(args.task)
    model = args.model or task.default_model
    params = params_for_model(task, model, None, {})
    from apps.serving import launch

    launch(build_demo(args.task, model, params=params), args.host, args.port, args.max_file_size)
    return 0


def cmd_app(args, extra: list[str]) -> int:
    from apps.serving import launch
    from apps.workbench.app import auth_for, build_app, keep_jobs_moving
    from apps.workbench.jobs import JobQueue
    from evaluation.leaderboard import Leaderboard

    auth = auth_for(args.host, args.auth, args.no_auth)  # refused before anything starts
    queue = JobQueue(max_running=args.max_running)
    keep_jobs_moving(queue)
    print(f"jobs: {queue.folder}; runs: {runs_root().resolve()}", flush=True)
    launch(build_app(Leaderboard(args.db), queue), args.host, args.port, args.max_file_size, auth)
    return 0


def cmd_models(args, extra: list[str]) -> int:
    from shared import shelf
    from tasks.registry import all_tasks

    all_tasks()  # each task registers the shelf entries it builds

    if args.action == "list":
        rows = [shelf.describe(name) for name in shelf.SHELF]
        for row in rows:
            state = (
                f"prepared, {row['size_mb']} MB, {row['parameters'] / 1e6:.1f}M parameters"
                if row["prepared"]
                else "not prepared"
            )
            print(
                f"{row['name']:<18} {state}\n  {row['description']}\n  source: {row['source']} (sha256 "
                f"{', '.join(h[:12] + '...' for h in row['sha256'])}); licence: {row['licence']}\n"
                f"  can: {row['can']}\n  cannot: {row['cannot']}"
            )
        return 0
    names = list(shelf.SHELF) if args.all or (args.action == "verify" and not args.name) else [args.name]
    if not names or names == [None]:
        raise OmnituneError("no shelf entry named", "omnitune models prepare NAME (or --all)")
    failed = 0
    for name in names:
        if args.action == "prepare":
            shelf.prepare(name, force=args.force)
        else:
            problems = shelf.verify(name)
            print(f"{name}: files {'intact' if not problems else '; '.join(problems)}", flush=True)
            if not problems and not args.checksums_only:
                fidelity = shelf.check_fidelity(name)
                print(f"{name}: fidelity {fidelity if fidelity else 'n/a (files copied unchanged from the wheel)'}")
                problems = fidelity is not None and not fidelity.passed
            failed += bool(problems)
    return 1 if failed else 0


def cmd_quickstart(args, extra: list[str]) -> int:
    from apps import quickstart
    from evaluation.leaderboard import Leaderboard, as_table
    from tasks.registry import TASKS

    if distributed.launched():
        raise OmnituneError(
            "quickstart runs every task on one process; it was started by a distributed launcher",
            "run `omnitune quickstart` alone, or train one task on several processes: "
            "omnitune train TASK --num_processes N",
        )
    names = args.tasks or list(TASKS)
    print(quickstart.announce(names))
    started = time.monotonic()
    results = quickstart.run(names, db=args.db)
    print(f"\nquickstart finished in {(time.monotonic() - started) / 60:.1f} min\n")
    print_leaderboard(as_table(Leaderboard(args.db).rows()))
    print(
        "\nEverything in one page: try these models, train more, compare them on the leaderboard. Open it with\n"
        "  omnitune app      (then http://127.0.0.1:7860)"
    )
    print("One task at a time:")
    for shown in results:
        if shown.model:
            print(f"  omnitune demo {shown.task} --model {shown.model}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnitune", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    quick = sub.add_parser("quickstart", help="fine-tune and evaluate every task on its offline defaults")
    quick.add_argument("--tasks", nargs="*", help="only these tasks")
    quick.add_argument("--db", help=DB_HELP)
    quick.set_defaults(handler=cmd_quickstart)

    train = sub.add_parser("train", help="fine-tune a task; any parameter as --name value (see README)")
    train.add_argument("task")
    train.add_argument("--config", help="YAML file of parameters (command-line values win)")
    train.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        help="continue the newest run of this task (or the given run folder) from its last checkpoint",
    )
    train.add_argument(
        "--num_processes",
        "--num-processes",
        type=int,
        help="train as one run on N processes (GPUs, or CPU processes), started by accelerate launch",
    )
    train.add_argument(
        "--accelerate_config",
        "--accelerate-config",
        help="an accelerate config file (FSDP, DeepSpeed, several machines: see configs/accelerate)",
    )
    train.add_argument("--db", help=DB_HELP)
    train.set_defaults(handler=cmd_train)

    tune = sub.add_parser(
        "tune", help="search hyperparameters with Optuna (validation split), then score the best run on test"
    )
    tune.add_argument("task")
    tune.add_argument("--trials", type=int, default=10, help="finished trials the study should have (default 10)")
    tune.add_argument("--timeout", type=float, help="safety limit in minutes for this invocation (said when hit)")
    tune.add_argument("--space", help="YAML search space replacing the task's default (see shared/search_space.py)")
    tune.add_argument("--objective", choices=["validation", "validation+latency"], default="validation")
    tune.add_argument("--pruner", choices=["median", "hyperband", "none"], default="median")
    tune.add_argument("--study", help="study name (default TASK-MODEL)")
    tune.add_argument("--storage", help="study database URL (default sqlite in OMNITUNE_HOME/tune.db)")
    tune.add_argument("--resume", action="store_true", help="continue the study: finished trials are kept")
    tune.add_argument("--config", help="YAML file of fixed training parameters")
    tune.add_argument("--db", help=DB_HELP)
    tune.set_defaults(handler=cmd_tune)

    evaluate = sub.add_parser("evaluate", help="score a model on a split; record it on the leaderboard")
    evaluate.add_argument("task")
    evaluate.add_argument("--model", required=True, help="run folder, model folder, shelf entry or Hub id")
    evaluate.add_argument(
        "--split", help="default: test; for one --data file the model was not trained on, all of it ('all')"
    )
    evaluate.add_argument("--config")
    evaluate.add_argument("--no-speed", action="store_true", help="skip latency/throughput measurement")
    evaluate.add_argument("--db", help=DB_HELP)
    evaluate.set_defaults(handler=cmd_evaluate)

    audit = sub.add_parser("audit", help="check a task's data for imbalance, duplicates, leakage and skew")
    audit.add_argument("task")
    audit.add_argument("--out", help="report folder (default ./data-audit/TASK)")
    audit.add_argument("--config")
    audit.add_argument("--strict", action="store_true", help="exit with 3 when there are warnings (for CI)")
    audit.set_defaults(handler=cmd_audit)

    push = sub.add_parser("push", help="upload a run's model (or an exported ONNX run) to the Hugging Face Hub")
    push.add_argument("model", help="run folder, its model/ folder or an exported run")
    push.add_argument("--repo_id", required=True, help="user/model-name on the Hub")
    push.add_argument("--private", action="store_true", help="create the repo private")
    push.add_argument("--dry_run", action="store_true", help="list the files that would be uploaded; no network")
    push.set_defaults(handler=cmd_push)

    compress = sub.add_parser("compress", help="quantize and/or prune a model into a new, evaluated run")
    compress.add_argument("model", help="run folder (task found in it), model folder, shelf entry or Hub id")
    compress.add_argument("--task", help="needed when the model is not an evaluated omnitune run")
    compress.add_argument("--quantize", choices=("dynamic-int8", "weight-int8"))
    compress.add_argument("--prune", choices=("magnitude", "taylor"), help="unstructured, global ranking")
    compress.add_argument("--sparsity", type=float, default=0.5, help="share of prunable weights set to zero")
    compress.add_argument(
        "--ffn_ratio", type=float, default=0.0, help="share of feed-forward neurons removed in every block (structured)"
    )
    compress.add_argument(
        "--head_ratio",
        type=float,
        default=0.0,
        help="share of attention heads removed in every layer, least important first (ViT, DINOv2)",
    )
    compress.add_argument(
        "--importance", choices=("magnitude", "taylor"), default="magnitude", help="how feed-forward neurons are ranked"
    )
    compress.add_argument("--recovery_steps", type=int, default=0, help="fine-tune this many steps after pruning")
    compress.add_argument(
        "--gradual",
        action="store_true",
        help="grow the sparsity during recovery (cubic schedule) instead of pruning at once",
    )
    compress.add_argument("--calibration_examples", type=int, default=256, help="examples for Taylor importance")
    compress.add_argument("--output_dir")
    compress.add_argument("--config")
    compress.add_argument("--db", help=DB_HELP)
    compress.set_defaults(handler=cmd_compress)

    export = sub.add_parser("export", help="a trained model as ONNX (optionally int8), as a new evaluated run")
    export.add_argument("model", help="run folder (task found in it) or model folder")
    export.add_argument("--task", help="needed when the model is not an evaluated omnitune run")
    export.add_argument("--format", choices=("onnx",), default="onnx")
    export.add_argument(
        "--quantize", choices=("none", "dynamic", "static"), default="none", help="int8 by ONNX Runtime"
    )
    export.add_argument("--calibration_examples", type=int, default=128, help="training examples for static int8")
    export.add_argument("--calibration_method", choices=("minmax", "entropy", "percentile"), default="minmax")
    export.add_argument("--output_dir")
    export.add_argument("--config")
    export.add_argument("--db", help=DB_HELP)
    export.set_defaults(handler=cmd_export)

    attention = sub.add_parser(
        "attention", help="draw a model's attention (maps, sparsity pattern or Linformer projections) as PNG"
    )
    attention.add_argument("model", help="run folder, model folder, shelf entry or Hub id")
    attention.add_argument("--text", default="The fork() call creates a new process by duplicating the caller.")
    attention.add_argument("--task", help="needed when the model is not an evaluated omnitune run")
    attention.add_argument("--out", default="attention", help="folder for the PNG")
    attention.set_defaults(handler=cmd_attention)

    predict = sub.add_parser("predict", help="answer one input, printed as JSON")
    predict.add_argument("task")
    predict.add_argument("--model", required=True)
    predict.add_argument("--config")
    predict.set_defaults(handler=cmd_predict)

    board = sub.add_parser("leaderboard", help="every evaluation, as a table or a web app")
    board.add_argument("--task")
    board.add_argument("--dataset")
    board.add_argument("--sort", default="score")
    board.add_argument("--serve", action="store_true")
    board.add_argument("--host", default=DEFAULT_HOST)
    board.add_argument("--port", type=int, default=7861)
    board.add_argument("--db", help=DB_HELP)
    board.set_defaults(handler=cmd_leaderboard)

    demo = sub.add_parser("demo", help="a Gradio app for one task and model")
    demo.add_argument("task")
    demo.add_argument(
        "--model",
        "--voice",
        dest="model",
        help="run folder, model folder, shelf entry or Hub id (default: the task's offline default)",
    )
    demo.add_argument("--host", default=DEFAULT_HOST, help="127.0.0.1 unless you mean to expose it")
    demo.add_argument("--port", type=int, default=7860)
    demo.add_argument("--max-file-size", default="10mb", help="upload limit")
    demo.set_defaults(handler=cmd_demo)

    app = sub.add_parser("app", help="one web app: models, try every task, train, leaderboard")
    app.add_argument("--host", default=DEFAULT_HOST, help="127.0.0.1 unless you mean to expose it")
    app.add_argument("--port", type=int, default=7860)
    app.add_argument("--auth", help="user:password, required with a --host other than this machine")
    app.add_argument("--no_auth", "--no-auth", action="store_true", help="serve beyond this machine without a login")
    app.add_argument("--max-file-size", default="10mb", help="upload limit")
    app.add_argument("--max_running", "--max-running", type=int, default=1, help="training jobs at once")
    app.add_argument("--db", help=DB_HELP)
    app.set_defaults(handler=cmd_app)

    models = sub.add_parser("models", help="the offline shelf of pretrained models")
    models.add_argument("action", choices=("list", "prepare", "verify"))
    models.add_argument("name", nargs="?")
    models.add_argument("--all", action="store_true")
    models.add_argument("--force", action="store_true", help="rebuild even if intact")
    models.add_argument(
        "--checksums-only",
        action="store_true",
        help="verify: re-hash the files only, skip the fidelity checks (seconds instead of minutes)",
    )
    models.set_defaults(handler=cmd_models)
    return parser


# Sub-commands that take free-form --name value parameters; the others reject unknown options.
_FREE_FORM = {"train", "tune", "evaluate", "predict", "compress", "export", "attention", "audit"}


def task_options(task_name: str) -> str:
    """Every parameter a task takes, with its default and what it does: the free-form part of --help."""
    from tasks.registry import get_task

    task = get_task(task_name)
    lines = [f"options of {task.name} (--name value; also as keys of a --config YAML file):"]
    for name, field in task.params_class.model_fields.items():
        default = task.bundled_data_defaults.get(name, field.get_default(call_default_factory=True))
        about = f"  {field.description}" if field.description else ""
        lines.append(f"  --{name} (default: {default}){about}")
    if task.input_fields:
        lines.append(f"predict inputs: {', '.join('--' + name for name in task.input_fields)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) >= 2 and argv[0] in ("train", "tune", "evaluate", "predict") and {"-h", "--help"} & set(argv):
        try:
            print(task_options(argv[1]) + "\n")
        except OmnituneError:
            pass  # not a task name: argparse's own help follows
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    if extra and args.command not in _FREE_FORM:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # under torchrun / accelerate launch, a message says which process it comes from
    where = f" ({distributed.describe()})" if distributed.launched() else ""
    distributed.silence_other_ranks()
    try:
        return args.handler(args, extra)
    except OmnituneError as error:
        print(f"omnitune: error{where}: {error.problem}", file=sys.stderr)
        if error.fix:
            print(f"  fix: {error.fix}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug, not a user error: one line, and the traceback kept for the report
        report = _write_traceback()
        print(f"omnitune: unexpected error{where}: {type(error).__name__}: {error}", file=sys.stderr)
        print(f"  the full traceback is in {report}; please include it when you report this", file=sys.stderr)
        return 1


def _write_traceback() -> Path:
    import traceback

    folder = omnitune_home() / "crashes"
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    report.write_text(f"omnitune {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}")
    return report


if __name__ == "__main__":
    sys.exit(main())
