"""Extractive question answering: the five answers of the task protocol (see shared/task_protocol.py)."""

from __future__ import annotations

from typing import Any

from datasets import Dataset
from pydantic import Field
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding

from shared.attention.setup import configure_attention
from shared.config import TrainParams
from shared.errors import OmnituneError
from shared.inference import batched_logits
from shared.pretrained import config_overrides, hub_failure, load_kwargs, load_noting_fresh_weights
from shared.task_defaults import TaskDefaults
from shared.task_protocol import Built, Quickstart
from tasks.question_answering import data, decoding, features
from tasks.question_answering.augmentation import with_gender_swapped_copies

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


MAX_CONTEXT_CHARS = 100_000  # long contexts are fine (strided windows); this bounds one request's work
MAX_QUESTION_CHARS = 1_000


class QAParams(TrainParams):
    max_seq_length: int = Field(384, ge=16, description="tokens per window (question + context)")
    doc_stride: int = Field(128, ge=1, description="overlap between windows of a long context")
    version_2_with_negative: bool = Field(True, description="questions may have no answer (SQuAD v2)")
    null_score_diff_threshold: float = Field(0.0, description="abstain when no-answer beats the best span by this")
    n_best_size: int = 20
    max_answer_length: int = Field(96, description="longest answer span, in tokens")
    counterfactual_augmentation: bool = Field(
        False, description="also train on gender-swapped copies of examples with gendered words or names (CDA)"
    )


class QuestionAnsweringTask(TaskDefaults):
    name = "question-answering"
    params_class = QAParams
    default_model = "minilm-l6"
    default_data_name = "omnitune/manpages-qa"
    metric = "squad_v2"
    primary_metric = "f1"
    head_modules = ("qa_outputs",)
    # Used when no --data is given: sized for the bundled set on a 2-core CPU (README has the measured run).
    # Bundled contexts are ~210 tokens (median), so 256-token windows hold nearly all of them in one window.
    bundled_data_defaults = {
        "learning_rate": 3e-4,
        "warmup_ratio": 0.1,
        "max_train_samples": 4000,
        "max_eval_samples": 300,
        "max_seq_length": 256,
        "doc_stride": 64,
        "max_train_minutes": 15.0,
    }
    # 2,000 questions (138 steps) reached only F1 29 (measured): the span head learns late
    quickstart = Quickstart(
        overrides={"max_train_samples": 3000},
        minutes=7.0,
        full_run="omnitune train question-answering   (4,000 questions, 275 steps)",
    )
    input_fields = ("question", "context")
    audit_columns = {"question": "text", "context": "text"}

    def example_from_inputs(self, inputs: dict[str, Any], params: QAParams) -> dict[str, list]:
        context, question = str(inputs.get("context") or "").strip(), str(inputs.get("question") or "").strip()
        if not context:
            raise OmnituneError("The context is empty: paste the text that should contain the answer.", field="context")
        if not question:
            raise OmnituneError("The question is empty: type a question about the context.", field="question")
        if len(context) > MAX_CONTEXT_CHARS:
            raise OmnituneError(
                f"The context has {len(context):,} characters; the limit is {MAX_CONTEXT_CHARS:,}. "
                "Paste a shorter part.",
                field="context",
            )
        if len(question) > MAX_QUESTION_CHARS:
            raise OmnituneError(
                f"The question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}.", field="question"
            )
        return {"id": ["0"], "context": [context], "question": [question]}

    def load_examples(self, params: QAParams, split: str) -> Dataset:
        examples = params.limited(
            data.load_examples(params.data, params.split_name(split), params.column_mapping), split
        )
        if split == "train" and params.counterfactual_augmentation:  # the data audit counts the copies too
            examples, _ = with_gender_swapped_copies(examples)
        return examples

    def build(
        self, model_path: str, params: QAParams, examples: Dataset | None = None, training: bool = False
    ) -> Built:
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=False)
            model, fresh = load_noting_fresh_weights(
                AutoModelForQuestionAnswering,
                model_path,
                **load_kwargs(params.allow_pickle),
                **config_overrides(model_path, params.attention_dropout),
            )
        except OSError as error:
            raise hub_failure(model_path, error) from None
        configure_attention(model, params, model_path, tokenizer)
        if not getattr(tokenizer, "is_fast", False):
            raise OmnituneError(
                f"{model_path} has no fast tokenizer; span decoding needs character offsets",
                "use a model that ships tokenizer.json",
            )
        return Built(model, tokenizer, untrained=fresh)

    def features(self, examples: Dataset, built: Built, params: QAParams, for_eval: bool) -> Dataset:
        return features.tokenize(
            examples, built.processor, params.max_seq_length, params.doc_stride, with_labels=True, keep_offsets=for_eval
        )

    def decode(self, examples: Dataset, features: Dataset, outputs: Any, built: Built, params: QAParams) -> list:
        start_logits, end_logits = outputs[:2]
        return decoding.decode(
            examples,
            features,
            start_logits,
            end_logits,
            params.n_best_size,
            params.max_answer_length,
            params.version_2_with_negative,
            params.null_score_diff_threshold,
        )

    def predict(self, built: Built, examples: Dataset, params: QAParams, batch_size: int) -> list:
        columns = examples.to_dict() if isinstance(examples, Dataset) else examples
        windows = features.tokenize_batch(
            columns, built.processor, params.max_seq_length, params.doc_stride, with_labels=False, keep_offsets=True
        )
        logits = batched_logits(
            built.model, windows, self.collator(built, params), ("start_logits", "end_logits"), batch_size, MODEL_INPUTS
        )
        rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
        return self.decode(rows, windows, logits, built, params)

    def metric_inputs(self, answers: list, examples: Dataset, params: QAParams) -> dict[str, Any]:
        """The best span and its no-answer probability, with the decoder's threshold: the metric abstains where
        the decoder did, and its best_f1 says which threshold would have scored best."""
        abstains = params.version_2_with_negative
        return {
            "predictions": [
                {
                    "id": a.id,
                    "prediction_text": a.best_span if abstains else a.text,
                    "no_answer_probability": a.no_answer_probability if abstains else 0.0,
                }
                for a in answers
            ],
            "references": [{"id": e["id"], "answers": e["answers"]} for e in examples],
            "no_answer_threshold": (
                decoding.no_answer_probability(params.null_score_diff_threshold) if abstains else 1.0
            ),
        }

    def baseline(self, examples: Dataset, params: QAParams) -> tuple[str, list]:
        """Abstain on every question: SQuAD v2's floor (its F1 is the share of unanswerable questions)."""
        return "always answer 'no answer'", [decoding.Answer(str(e["id"]), "", -1, -1, 1.0, 0.0) for e in examples]

    def collator(self, built: Built, params: QAParams) -> Any:
        return DataCollatorWithPadding(built.processor)
