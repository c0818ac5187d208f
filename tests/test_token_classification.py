"""Token classification end to end on a tiny random BERT: words and entities as seqeval reads them, the data
loader's checks, the man-page builder's font reading, training through the CLI, prediction, the demo."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import pytest
from gradio_client import Client
from seqeval.metrics.sequence_labeling import get_entities

from apps.cli import main
from apps.demos import build_demo
from evaluation.harness import score
from evaluation.leaderboard import Leaderboard
from shared.errors import OmnituneError
from shared.training import fine_tune
from tasks.registry import get_task
from tasks.token_classification import build_dataset
from tasks.token_classification.data import BUNDLED, load_examples
from tasks.token_classification.tagging import entities, label_list, words

TASK = get_task("token-classification")
SPLITS = ("train", "validation", "test")


def test_words_keep_options_paths_and_variables_whole():
    """An option and its value are two words (two entities: OPTION, then PATH or ARGUMENT)."""
    text = "Use --prefix=/usr or -o ~/out.txt; see $HOME/.config, ./configure and don't."
    assert words(text) == [
        "Use",
        "--prefix",
        "=",
        "/usr",
        "or",
        "-o",
        "~/out.txt",
        ";",
        "see",
        "$HOME/.config",
        ",",
        "./configure",
        "and",
        "don't",
        ".",
    ]


def test_entities_read_tags_as_seqeval_does():
    rng = random.Random(0)
    tags = ["O", "B-OPTION", "I-OPTION", "B-PATH", "I-PATH", "I-ARGUMENT"]
    for _ in range(500):
        sequence = [rng.choice(tags) for _ in range(rng.randint(1, 12))]
        tokens = [f"w{i}" for i in range(len(sequence))]
        ours = [(e.type, e.start, e.end - 1) for e in entities(tokens, sequence)]
        assert ours == get_entities(sequence), sequence


def test_label_order_is_outside_first_then_by_type():
    assert label_list([["B-PATH", "O"], ["I-ARGUMENT", "B-ARGUMENT"]]) == ["O", "B-ARGUMENT", "I-ARGUMENT", "B-PATH"]


def test_metric_scores_whole_entities_per_type():
    references = [["B-OPTION", "O", "B-ARGUMENT", "I-ARGUMENT"], ["B-PATH", "O"]]
    predictions = [["B-OPTION", "O", "B-ARGUMENT", "O"], ["B-PATH", "O"]]  # the argument's end is wrong
    result = score(TASK, [_tagged(p) for p in predictions], _examples(references), TASK.params_class())
    assert result["overall_precision"] == pytest.approx(200 / 3)
    assert result["overall_recall"] == pytest.approx(200 / 3)
    assert result["ARGUMENT/f1"] == 0 and result["OPTION/f1"] == 100 and result["PATH/support"] == 1
    assert result["overall_accuracy"] == pytest.approx(500 / 6)


def _tagged(tags):
    from tasks.token_classification.task import Tagged

    return Tagged("0", [f"w{i}" for i in range(len(tags))], tags)


def _examples(tag_sequences):
    from datasets import Dataset

    return Dataset.from_list(
        [{"id": str(i), "tokens": [f"w{j}" for j in range(len(t))], "ner_tags": t} for i, t in enumerate(tag_sequences)]
    )


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_loader_reads_jsonl_csv_and_named_integer_tags(tmp_path):
    rows = [{"tokens": ["Use", "-v"], "ner_tags": ["O", "B-OPTION"]}] * 30
    loaded = load_examples(str(_write_jsonl(tmp_path / "tags.jsonl", rows)), "train")
    assert loaded[0]["ner_tags"] == ["O", "B-OPTION"] and 20 <= len(loaded) < 30  # ~10% held out

    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "train.csv").write_text('words,labels\nUse -v,"[""O"", ""B-OPTION""]"\n')
    loaded = load_examples(str(tmp_path / "folder"), "train", {"tokens": "words", "ner_tags": "labels"})
    assert loaded[0]["tokens"] == ["Use", "-v"] and loaded[0]["ner_tags"] == ["O", "B-OPTION"]

    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    named = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=["O", "B-PER"]))})
    Dataset.from_list([{"tokens": ["Ada", "wrote"], "ner_tags": [1, 0]}], features=named).to_parquet(
        tmp_path / "folder" / "test.parquet"
    )
    assert load_examples(str(tmp_path / "folder"), "test")[0]["ner_tags"] == ["B-PER", "O"]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"words": ["a"], "ner_tags": ["O"]}], "no column 'tokens'.*found: words, ner_tags"),
        ([{"tokens": ["a", "b"], "ner_tags": ["O"]}], "row 0: 2 words but 1 tags"),
        ([{"tokens": ["a"], "ner_tags": ["PER"]}], "tag 'PER' is not O, B-TYPE or I-TYPE"),
        ([{"tokens": [], "ner_tags": []}], "no words"),
        ([{"tokens": ["a"], "ner_tags": [3]}], "tags are numbers .* the data does not name them"),
    ],
)
def test_loader_names_the_problem_and_the_fix(tmp_path, rows, message):
    (tmp_path / "data").mkdir()
    _write_jsonl(tmp_path / "data" / "test.jsonl", rows)
    with pytest.raises(OmnituneError, match=message):
        load_examples(str(tmp_path / "data"), "test")


MAN_PAGE = r""".TH FROB 1
.SH SYNOPSIS
.B frob
[\fB\-o\fR \fIoutput file\fR] \fIinput\fR
.SH DESCRIPTION
.B frob
reads \fIinput\fR and writes the result to /var/lib/frob/cache or to the file named by \fB\-\-output\fR.
It honours $FROB_HOME and LC_ALL when set.
.SH ENVIRONMENT
.TP
.B FROB_DEBUG
Print what frob does when this variable is set to any value.
"""


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff renders the man pages (Debian groff-base)")
def test_builder_reads_tags_from_the_fonts_of_a_rendered_page(tmp_path):
    from shared.man_pages import render

    page = tmp_path / "frob.1"
    page.write_text(MAN_PAGE)
    rows = build_dataset.page_examples("frob", render(page, fonts=True))
    found = {(e.type, e.text) for row in rows for e in entities(row["tokens"], row["ner_tags"])}
    assert {
        ("OPTION", "-o"),
        ("ARGUMENT", "output file"),
        ("ARGUMENT", "input"),
        ("PATH", "/var/lib/frob/cache"),
        ("OPTION", "--output"),
        ("ENV", "$FROB_HOME"),
        ("ENV", "LC_ALL"),
    } <= found
    assert ("ENV", "FROB_DEBUG") in found  # listed in its own ENVIRONMENT section
    assert not any(e.text == "frob" for row in rows for e in entities(row["tokens"], row["ner_tags"]))


def test_bundled_set_is_split_by_page_and_tags_every_word():
    pages = {}
    for split in SPLITS:
        with gzip.open(BUNDLED / f"{split}.jsonl.gz", "rt") as handle:
            rows = [json.loads(line) for line in handle]
        assert all(len(r["tokens"]) == len(r["ner_tags"]) <= build_dataset.MAX_WORDS for r in rows)
        pages[split] = {r["page"] for r in rows}
        assert {e.type for r in rows for e in entities(r["tokens"], r["ner_tags"])} == {
            "OPTION",
            "ARGUMENT",
            "PATH",
            "ENV",
        }
    assert not (pages["train"] & pages["test"]) and not (pages["train"] & pages["validation"])


@pytest.fixture
def small_set(tmp_path) -> Path:
    """The first rows of each bundled split, in the same layout."""
    folder = tmp_path / "data"
    folder.mkdir()
    for split, count in zip(SPLITS, (64, 16, 24)):
        with gzip.open(BUNDLED / f"{split}.jsonl.gz", "rt") as handle:
            rows = [json.loads(next(handle)) for _ in range(count)]
        _write_jsonl(folder / f"{split}.jsonl", rows)
    return folder


def test_train_evaluate_and_predict_from_the_command_line(tiny_qa_model, small_set, tmp_path, capsys):
    run = tmp_path / "runs" / "tags"
    common = ["--data", str(small_set), "--max_seq_length", "64", "--per_device_eval_batch_size", "4"]
    assert (
        main(
            ["train", "token-classification", "--model", str(tiny_qa_model), "--max_steps", "4"]
            + ["--learning_rate", "1e-3", "--per_device_train_batch_size", "8", "--output_dir", str(run), *common]
        )
        == 0
    ), capsys.readouterr().err
    metrics = json.loads((run / "metrics.json").read_text())["test"]
    assert 0 <= metrics["metrics"]["overall_f1"] <= 100 and "OPTION/support" in metrics["metrics"]
    assert metrics["baseline"]["name"] == "most frequent tag per word"
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["id2label"]["0"] == "O" and set(config["label2id"]) == {
        "O",
        "B-ARGUMENT",
        "I-ARGUMENT",
        "B-ENV",
        "B-OPTION",
        "B-PATH",
    }
    assert [row["task"] for row in Leaderboard().rows()] == ["token-classification"]

    capsys.readouterr()
    assert main(["predict", "token-classification", "--model", str(run), "--text", "Use -v to see /etc/hosts."]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [word for word, _ in answer["tags"]] == ["Use", "-v", "to", "see", "/etc/hosts", "."]
    assert all(e["type"] in {"ARGUMENT", "ENV", "OPTION", "PATH"} for e in answer["entities"])


def test_predictions_do_not_depend_on_the_batch(tiny_qa_model, small_set):
    """Batches are padded to their own longest example; stacking them must not mix up words."""
    params = TASK.params_class(model=str(tiny_qa_model), data=str(small_set), max_seq_length=64)
    examples = TASK.load_examples(params, "train")
    built = TASK.build(str(tiny_qa_model), params, examples, training=True)
    one = TASK.predict(built, examples, params, batch_size=1)
    many = TASK.predict(built, examples, params, batch_size=7)
    assert [a.tags for a in one] == [a.tags for a in many]
    assert [a.id for a in many] == list(examples["id"])


def test_a_model_without_the_datas_tags_is_refused(tiny_qa_model, small_set, tmp_path):
    params = TASK.params_class(model=str(tiny_qa_model), data=str(small_set), max_steps=1, max_seq_length=64)
    result = fine_tune(TASK, params, None, tmp_path / "run")
    rows = [{"tokens": ["Ada", "wrote"], "ner_tags": ["B-PER", "O"]}]
    (tmp_path / "people").mkdir()
    _write_jsonl(tmp_path / "people" / "test.jsonl", rows)
    other = params.model_copy(update={"data": str(tmp_path / "people")})
    with pytest.raises(OmnituneError, match="(?s)the data also has B-PER.*train one"):
        TASK.build(str(result.model_dir), other, TASK.load_examples(other, "test"))


def test_lora_trains_adapters_on_the_new_head(tiny_qa_model, small_set, tmp_path):
    params = TASK.params_class(
        model=str(tiny_qa_model), data=str(small_set), max_steps=2, max_seq_length=64, peft="lora"
    )
    result = fine_tune(TASK, params, None, tmp_path / "lora")
    assert 0 < result.trainable_parameters / result.total_parameters < 0.5
    assert (tmp_path / "lora" / "adapter" / "adapter_config.json").is_file()
    built = TASK.build(str(result.model_dir), params)
    assert built.labels[0] == "O" and len(built.labels) == 6


@pytest.fixture
def tagging_demo(tiny_qa_model, small_set, tmp_path, serve):
    params = TASK.params_class(model=str(tiny_qa_model), data=str(small_set), max_steps=1, max_seq_length=64)
    result = fine_tune(TASK, params, None, tmp_path / "run")
    return serve(build_demo("token-classification", str(result.model_dir)))


def test_demo_highlights_entities_over_the_unchanged_text(tagging_demo):
    client = Client(tagging_demo.local_url, verbose=False)
    text = "Use  -o FILE to write /tmp/out."
    highlighted, details = client.predict(text, api_name="/tag")
    assert "".join(piece["token"] for piece in highlighted) == text
    assert [word for word, _ in details["tags"]] == words(text)
    for piece in highlighted:
        assert piece["class_or_confidence"] in (None, "OPTION", "ARGUMENT", "PATH", "ENV")
    with pytest.raises(Exception, match="text is empty"):
        client.predict("   ", api_name="/tag")
    with pytest.raises(Exception, match="limit is 5,000"):
        client.predict("word " * 1001, api_name="/tag")


def test_data_without_a_training_split_is_scored_without_a_baseline(small_set, tmp_path):
    (tmp_path / "only-test").mkdir()
    shutil.copy(small_set / "test.jsonl", tmp_path / "only-test" / "test.jsonl")
    params = TASK.params_class(data=str(tmp_path / "only-test"))
    assert TASK.baseline(TASK.load_examples(params, "test"), params) is None
    name, answers = TASK.baseline(
        TASK.load_examples(params.model_copy(update={"data": str(small_set)}), "test"),
        params.model_copy(update={"data": str(small_set)}),
    )
    assert name == "most frequent tag per word" and len(answers) == 24
