"""One run on N processes, through the real launchers (torchrun, accelerate launch) on CPU over gloo: one run
folder, one metrics.json, one leaderboard row; sharded evaluation equal to one process; a DDP step equal to a
single-process step on the same global batch, also across two torchrun "nodes" on this machine."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from apps.cli import main
from apps.launch import accelerate_command
from conftest import bundled_subset
from evaluation.harness import evaluate
from evaluation.leaderboard import Leaderboard
from shared import distributed
from tasks.registry import get_task

QA_OPTIONS = [
    "--max_seq_length",
    "96",
    "--doc_stride",
    "32",
    "--per_device_eval_batch_size",
    "8",
    "--eval_strategy",
    "no",
    "--learning_rate",
    "1e-3",
    "--seed",
    "7",
    "--group_by_length",
    "false",
]


def _launch(*launcher: str, args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m <launcher> -m apps.cli <args>` as a user runs it; the test's OMNITUNE_HOME and runs root are
    inherited through the environment."""
    command = [sys.executable, "-m", *launcher, "-m", "apps.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runs(root: Path) -> list[Path]:
    return [p for p in root.glob("*/*") if p.is_dir()]


@pytest.fixture
def qa_setup(tiny_qa_model, tmp_path):
    """The tiny QA model without dropout (so that two runs differ only in how the batch is split) + data."""
    model = tmp_path / "tiny-qa"
    shutil.copytree(tiny_qa_model, model)
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    return model, bundled_subset(tmp_path / "data", per_split=30)


def test_torchrun_two_processes_make_one_run_evaluated_as_one_process_would(qa_setup, tmp_path):
    model, data = qa_setup
    done = _launch(
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        args=[
            "train",
            "question-answering",
            "--model",
            str(model),
            "--data",
            str(data),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "4",
            *QA_OPTIONS,
        ],
    )
    runs = _runs(tmp_path / "runs")
    assert len(runs) == 1, runs  # the main process named the run folder for both
    run = runs[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"]["processes"] == 2 and metrics["test"]["processes"] == 2
    rows = Leaderboard().rows()
    assert len(rows) == 1 and rows[0]["run_id"] == str(run.resolve())
    assert done.stdout.count("run folder:") == 1  # one log stream: only the main process reports
    assert "global batch 8" in done.stdout

    # the gathered, sharded evaluation scores exactly as one process does on the same model
    task = get_task("question-answering")
    params = task.params_class(
        model=str(model), data=str(data), max_seq_length=96, doc_stride=32, per_device_eval_batch_size=8
    )
    alone = evaluate(task, str(run / "model"), params, with_speed=False, log=lambda *_: None)
    assert alone.metrics == metrics["test"]["metrics"]


def test_a_ddp_step_across_two_nodes_equals_one_process_on_the_same_global_batch(qa_setup, tmp_path):
    """Two torchrun "nodes" (node ranks 0 and 1, one process each, master 127.0.0.1) take one step with 4
    examples each; one process takes one step with 8 (length-grouped, as by default). Plain SGD, so that the
    update is the gradient itself
    (Adam's first step is about lr x sign(gradient) and would hide a wrong gradient). The updated weights agree
    to float tolerance, and a step on only half of the batch does not."""
    model, data = qa_setup
    common = [
        "train",
        "question-answering",
        "--model",
        str(model),
        "--data",
        str(data),
        "--max_steps",
        "1",
        *QA_OPTIONS,
        "--optim",
        "sgd",
        "--learning_rate",
        "1.0",
        "--group_by_length",
        "true",
    ]
    for name, batch in (("one", "8"), ("half", "4")):
        assert main([*common, "--per_device_train_batch_size", batch, "--output_dir", str(tmp_path / name)]) == 0

    port = str(_free_port())
    nodes = []
    for node_rank in ("0", "1"):
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--node_rank",
            node_rank,
            "--nproc_per_node",
            "1",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            port,
            "-m",
            "apps.cli",
            *common,
            "--per_device_train_batch_size",
            "4",
            "--output_dir",
            str(tmp_path / "two"),
        ]
        nodes.append(
            subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        )
    for node in nodes:
        out, err = node.communicate(timeout=300)
        assert node.returncode == 0, out[-2000:] + err[-4000:]

    one, two, half = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("one", "two", "half"))
    original = load_file(model / "model.safetensors")
    moved = max((one[k] - original[k]).abs().max().item() for k in one)
    assert moved > 0.01  # the step really changed the weights
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-6, msg=key)
    assert max((half[k] - one[k]).abs().max().item() for k in one) > 1e-3  # the batch split matters
    # the two-node run is one run: one row, next to the single-process runs' rows
    assert sorted(r["run_id"] for r in Leaderboard().rows()) == sorted(
        str((tmp_path / name).resolve()) for name in ("half", "one", "two")
    )


def test_image_probe_through_accelerate_launch_extracts_each_share_once_and_matches_one_process(
    tiny_vit, colour_folder, tmp_path
):
    common = [
        "train",
        "image-classification",
        "--model",
        str(tiny_vit),
        "--data",
        str(colour_folder),
        "--probe_epochs",
        "30",
        "--per_device_eval_batch_size",
        "4",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "apps.cli", *common, "--num_processes", "2", "--output_dir", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert "accelerate.commands.launch --num_processes 2" in done.stdout
    assert "on 2 processes" in done.stdout  # features were extracted in shares
    cache = sorted((tmp_path / "home" / "features").glob("*"))
    assert [p.suffix for p in cache] == [".safetensors", ".safetensors"]  # train + validation, written once each

    shutil.rmtree(tmp_path / "home" / "features")  # one process computes its own features from scratch
    assert main([*common, "--output_dir", str(tmp_path / "one")]) == 0
    one = load_file(tmp_path / "one" / "model" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model" / "model.safetensors")
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6, msg=key)
    scores = [json.loads((tmp_path / n / "metrics.json").read_text())["test"]["metrics"] for n in ("one", "two")]
    assert scores[0] == scores[1]
    assert len(Leaderboard().rows()) == 2


def test_num_processes_hands_the_same_command_to_accelerate_launch():
    argv = ["train", "question-answering", "--num_processes", "4", "--learning_rate", "3e-5", "--seed=1"]
    command = accelerate_command(argv, 4, None)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "4" and "--multi_gpu" in command
    assert command[-6:] == ["apps.cli", "train", "question-answering", "--learning_rate", "3e-5", "--seed=1"]
    with_file = accelerate_command(["train", "x", "--accelerate_config=fsdp.yaml"], None, "fsdp.yaml")
    assert with_file[3:5] == ["--config_file", "fsdp.yaml"] and "--multi_gpu" not in with_file
    assert "--accelerate_config=fsdp.yaml" not in with_file


def test_shares_cover_every_example_once_in_order(monkeypatch):
    for size in (1, 2, 3):
        for count in (0, 1, 5, 8):
            shares = []
            for index in range(size):
                monkeypatch.setattr(distributed, "world_size", lambda s=size: s)
                monkeypatch.setattr(distributed, "rank", lambda i=index: i)
                shares += list(distributed.share_of(count))
            assert shares == list(range(count)), (size, count)


def _every_task_case(case: str, tmp_path: Path, family_folder, tiny_bert2bert) -> tuple[str, list[str]]:
    """(task, its `train` options) for a two-step run of each task on a tiny model and tiny data."""
    from tests import test_seq2seq
    from tests.tiny_speech import save_tiny_speecht5, save_tiny_wav2vec2, save_tiny_whisper, write_audiofolder

    speech = {
        "train": ["press one", "press two", "goodbye", "hello there"] * 2,
        "validation": ["press one", "goodbye"],
        "test": ["hello there", "press two", "goodbye"],
    }
    generation = ["--max_new_tokens", "3", "--num_beams", "1"]
    if case == "translation":
        return "translation", [
            "--model",
            str(family_folder("marian")),
            "--data",
            str(test_seq2seq.pair_file(tmp_path, test_seq2seq.PAIRS * 3)),
            *generation,
        ]
    if case == "summarization":
        return "summarization", [
            "--model",
            str(tiny_bert2bert[1]),
            "--data",
            str(test_seq2seq.summary_folder(tmp_path)),
            *generation,
        ]
    audio = str(write_audiofolder(tmp_path / "speech", speech, seconds=0.5))
    if case == "text-to-speech":
        return "text-to-speech", [
            "--model",
            str(save_tiny_speecht5(tmp_path / "voice")),
            "--data",
            audio,
            "--judge",
            str(save_tiny_whisper(tmp_path / "judge")),
        ]
    builder = save_tiny_whisper if case == "whisper" else save_tiny_wav2vec2
    return "automatic-speech-recognition", [
        "--model",
        str(builder(tmp_path / case)),
        "--data",
        audio,
        "--max_new_tokens",
        "3",
    ]


@pytest.mark.parametrize("case", ["translation", "summarization", "whisper", "ctc", "text-to-speech"])
def test_every_task_trains_and_evaluates_as_one_run_on_two_processes(case, tmp_path, family_folder, tiny_bert2bert):
    task_name, options = _every_task_case(case, tmp_path, family_folder, tiny_bert2bert)
    run = tmp_path / "run"
    _launch(
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        args=[
            "train",
            task_name,
            *options,
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "2",
            "--eval_strategy",
            "no",
            "--output_dir",
            str(run),
        ],
    )
    report = json.loads((run / "metrics.json").read_text())
    assert report["training"]["processes"] == 2 and report["test"]["processes"] == 2
    assert len(Leaderboard().rows()) == 1

    # one process, the same saved model and data: the gathered answers score the same
    task = get_task(task_name)
    values = dict(zip([o[2:] for o in options[::2]], options[1::2]))
    params = task.params_class(**{**values, "model": str(run / "model")})
    alone = evaluate(task, str(run / "model"), params, with_speed=False, log=lambda *_: None)
    primary = task.primary_metric
    assert alone.metrics[primary] == pytest.approx(report["test"]["metrics"][primary], abs=1e-9)


def test_compress_recovery_steps_run_as_one_run_on_two_processes(qa_setup, tmp_path):
    model, data = qa_setup
    run = tmp_path / "pruned"
    _launch(
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        args=[
            "compress",
            str(model),
            "--task",
            "question-answering",
            "--prune",
            "magnitude",
            "--sparsity",
            "0.5",
            "--recovery_steps",
            "2",
            "--output_dir",
            str(run),
            "--data",
            str(data),
            *QA_OPTIONS,
        ],
    )
    facts = json.loads((run / "compression.json").read_text())
    assert 0.45 < facts["unstructured_pruning"]["achieved"] < 0.55
    assert not (run / "pruned").exists()  # the starting point was removed once, after every rank had loaded
    assert json.loads((run / "metrics.json").read_text())["test"]["processes"] == 2
    assert len(Leaderboard().rows()) == 1


@pytest.mark.parametrize(
    "name, kind",
    [("multi_gpu", "MULTI_GPU"), ("fsdp", "FSDP"), ("deepspeed_zero3", "DEEPSPEED"), ("two_machines", "MULTI_GPU")],
)
def test_shipped_accelerate_configs_load_with_accelerate_itself(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    path = Path(__file__).resolve().parents[1] / "configs" / "accelerate" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.distributed_type.name == kind and config.mixed_precision == "bf16"
    assert "--config_file" in accelerate_command(["train", "translation"], None, str(path))
