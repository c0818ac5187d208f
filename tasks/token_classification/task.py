"""Token classification (named-entity-style tagging): the task protocol's answers (shared/task_protocol.py) with
transformers' run_ner.py conventions: words in, one BIO tag per word out; each word's tag is learned and read
at its first sub-token (the others are ignored, label -100); scored by entity with seqeval."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from datasets import Dataset
from pydantic import Field
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification

from shared.attention.setup import configure_attention
from shared.config import TrainParams
from shared.errors import OmnituneError
from shared.inference import batched_logits
from shared.pretrained import config_overrides, hub_failure, load_kwargs, load_noting_fresh_weights
from shared.task_defaults import TaskDefaults
from shared.task_protocol import Built, Quickstart
from tasks.token_classification import data
from tasks.token_classification.tagging import OUTSIDE, entities, label_list, words

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
IGNORED = -100  # label of the sub-tokens after a word's first, and of special tokens: no loss, no prediction
_GENERIC_LABEL = "LABEL_"  # transformers' names for the labels of a model without a task head


MAX_TEXT_CHARS = 5_000  # the model reads max_seq_length sub-tokens; longer text would be tagged O past that


class TokenParams(TrainParams):
    max_seq_length: int = Field(
        128, ge=8, description="sub-word tokens per example; words beyond are tagged O, as a truncating model would"
    )


@dataclass(frozen=True)
class Tagged:
    id: str
    tokens: list[str]
    tags: list[str]

    @property
    def entities(self):
        return entities(self.tokens, self.tags)


class TokenClassificationTask(TaskDefaults):
    name = "token-classification"
    params_class = TokenParams
    default_model = "minilm-l6"
    default_data_name = "omnitune/manpages-ner"
    metric = "seqeval"
    primary_metric = "overall_f1"
    head_modules = ("classifier",)
    # Sized for the bundled set on a 2-core CPU: the README has the measured run.
    bundled_data_defaults = {
        "learning_rate": 1e-4,
        "num_train_epochs": 3.0,
        "warmup_ratio": 0.1,
        "per_device_train_batch_size": 32,
        "max_train_minutes": 20.0,
    }
    quickstart = Quickstart(
        overrides={"max_steps": 150},
        minutes=3.0,
        full_run="omnitune train token-classification   (462 steps, 13 min: F1 80.4)",
    )
    input_fields = ("text",)
    audit_columns = {"tokens": "words", "ner_tags": "tags"}

    def load_examples(self, params: TokenParams, split: str) -> Dataset:
        examples = data.load_examples(params.data, params.split_name(split), params.column_mapping)
        return params.limited(examples, split)

    # a new head for the training data's tags; evaluated data must use tags the model knows
    def build(
        self, model_path: str, params: TokenParams, examples: Dataset | None = None, training: bool = False
    ) -> Built:
        wanted = label_list(examples["ner_tags"]) if examples is not None else None
        try:
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
            current = [config.id2label[i] for i in range(config.num_labels)]
            untrained = all(name.startswith(_GENERIC_LABEL) for name in current)
            if wanted and not training and not untrained and not set(wanted) <= set(current):
                unknown = sorted(set(wanted) - set(current))
                raise OmnituneError(
                    f"{model_path} tags {', '.join(current)}; the data also has {', '.join(unknown)}",
                    "evaluate a model trained on these tags, or train one: omnitune train token-classification "
                    "--data ...",
                )
            new_head = wanted is not None and (training or untrained) and current != wanted
            head = (
                {
                    "num_labels": len(wanted),
                    "id2label": dict(enumerate(wanted)),
                    "label2id": {name: i for i, name in enumerate(wanted)},
                }
                if new_head
                else {}
            )
            tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=False)
            model, fresh = load_noting_fresh_weights(
                AutoModelForTokenClassification,
                model_path,
                **load_kwargs(params.allow_pickle),
                **config_overrides(model_path, params.attention_dropout),
                **head,
            )
        except OSError as error:
            raise hub_failure(model_path, error) from None
        if not getattr(tokenizer, "is_fast", False):
            raise OmnituneError(
                f"{model_path} has no fast tokenizer; tags are aligned to words through its word ids",
                "use a model that ships tokenizer.json",
            )
        configure_attention(model, params, model_path, tokenizer)
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        return Built(model, tokenizer, labels=labels, untrained=fresh)

    def features(self, examples: Dataset, built: Built, params: TokenParams, for_eval: bool) -> Dataset:
        label_ids = {name: i for i, name in enumerate(built.labels)}

        def encode(batch: dict) -> dict:
            encoded = self._encode(batch["tokens"], built, params)
            firsts = [_first_sub_tokens(encoded.word_ids(i)) for i in range(len(batch["tokens"]))]
            encoded["labels"] = [
                _aligned([label_ids.get(tag, IGNORED) for tag in tags], positions, len(encoded["input_ids"][i]))
                for i, (tags, positions) in enumerate(zip(batch["ner_tags"], firsts))
            ]
            if for_eval:  # where decode reads each word's tag (not a model input: Trainer drops it)
                encoded["first_sub_tokens"] = firsts
            return dict(encoded)

        return examples.map(encode, batched=True, remove_columns=examples.column_names)

    def collator(self, built: Built, params: TokenParams) -> Any:
        return DataCollatorForTokenClassification(built.processor)

    def decode(self, examples: Dataset, features: Any, outputs: Any, built: Built, params: TokenParams) -> list:
        logits = outputs[0] if isinstance(outputs, tuple) else outputs
        predicted = np.asarray(logits).argmax(-1)
        return [
            _answer(example, [built.labels[predicted[row][j]] for j in firsts])
            for row, (example, firsts) in enumerate(zip(examples, features["first_sub_tokens"]))
        ]

    def predict(self, built: Built, examples: Any, params: TokenParams, batch_size: int) -> list:
        columns = examples.to_dict() if isinstance(examples, Dataset) else examples
        encoded = self._encode(columns["tokens"], built, params)
        (logits,) = batched_logits(
            built.model, dict(encoded), self.collator(built, params), ("logits",), batch_size, MODEL_INPUTS
        )
        predicted = logits.argmax(-1)
        answers = []
        for row, tokens in enumerate(columns["tokens"]):
            firsts = _first_sub_tokens(encoded.word_ids(row))
            tags = [built.labels[predicted[row][j]] for j in firsts]
            answers.append(_answer({"id": columns["id"][row], "tokens": tokens}, tags))
        return answers

    def metric_inputs(self, answers: list[Tagged], examples: Dataset, params: TokenParams) -> dict[str, Any]:
        return {"predictions": [a.tags for a in answers], "references": list(examples["ner_tags"])}

    def baseline(self, examples: Dataset, params: TokenParams) -> tuple[str, list] | None:
        """Each word's most frequent tag in the training data (O for unseen words): what memorising gives."""
        counts: dict[str, Counter] = defaultdict(Counter)
        try:
            train = self.load_examples(params, "train")
        except OmnituneError:  # data with no training split: nothing to memorise
            return None
        for tokens, tags in zip(train["tokens"], train["ner_tags"]):
            for token, tag in zip(tokens, tags):
                counts[token.lower()][tag] += 1
        return "most frequent tag per word", [
            Tagged(
                example["id"],
                example["tokens"],
                [counts[t.lower()].most_common(1)[0][0] if t.lower() in counts else OUTSIDE for t in example["tokens"]],
            )
            for example in examples
        ]

    def example_from_inputs(self, inputs: dict[str, Any], params: TokenParams) -> dict[str, list]:
        text = str(inputs.get("text") or "")
        tokens = words(text)
        if not tokens:
            raise OmnituneError("The text is empty: give a sentence to tag, e.g. 'Use -v to print more.'")
        if len(text) > MAX_TEXT_CHARS:
            raise OmnituneError(
                f"The text has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}. Give a shorter part."
            )
        return {"id": ["0"], "tokens": [tokens], "ner_tags": [[OUTSIDE] * len(tokens)]}

    def describe_answer(self, answer: Tagged, built: Built, params: TokenParams) -> dict[str, Any]:
        return {"entities": [asdict(e) for e in answer.entities], "tags": list(zip(answer.tokens, answer.tags))}

    @staticmethod
    def _encode(tokens: list[list[str]], built: Built, params: TokenParams):
        return built.processor(tokens, is_split_into_words=True, truncation=True, max_length=params.max_seq_length)


def _aligned(word_labels: list[int], firsts: list[int], length: int) -> list[int]:
    """Each word's label at its first sub-token, IGNORED elsewhere (run_ner.py with label_all_tokens off)."""
    labels = [IGNORED] * length
    for word, position in enumerate(firsts):
        labels[position] = word_labels[word]
    return labels


def _first_sub_tokens(word_ids: list[int | None]) -> list[int]:
    seen, firsts = set(), []
    for j, word in enumerate(word_ids):
        if word is not None and word not in seen:
            seen.add(word)
            firsts.append(j)
    return firsts


def _answer(example: dict, tags: list[str]) -> Tagged:
    """Words the model did not see (cut by max_seq_length) are tagged O."""
    tokens = list(example["tokens"])
    return Tagged(str(example["id"]), tokens, tags + [OUTSIDE] * (len(tokens) - len(tags)))
