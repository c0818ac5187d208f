"""The sequence-to-sequence machinery that translation and summarization share: pairs -> tokenised inputs and
labels -> Seq2Seq training with predict-with-generate -> batched generation -> metric inputs. A task subclasses
`Seq2SeqTask` and says only what differs: its columns, metric, baseline and how its model is conditioned."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import torch
from datasets import Dataset
from pydantic import Field
from transformers import AutoModelForSeq2SeqLM, DataCollatorForSeq2Seq

import tasks.seq2seq.shelf_entries  # noqa: F401  (registers the warm-started encoder-decoders)
import tasks.seq2seq.whisper_text_decoder  # noqa: F401  (registers the warm-started decoder's model type)
from shared.attention.setup import configure_attention
from shared.config import TrainParams
from shared.errors import OmnituneError
from shared.pretrained import config_overrides, hub_failure, load_kwargs
from shared.task_defaults import TaskDefaults
from shared.task_protocol import Built
from tasks.seq2seq import data, generation, vocabulary_trim
from tasks.seq2seq.families import Conditioning
from tasks.seq2seq.generation import GenerationParams
from tasks.seq2seq.tokenizers import TokenizerPair, input_report

# EncoderDecoderModel warns on every training step that it computes the loss itself, as intended here
warnings.filterwarnings("ignore", message="Version v4.12.0 introduces a better way", category=FutureWarning)


class Seq2SeqParams(TrainParams, GenerationParams):
    max_source_length: int = Field(256, ge=1, description="source tokens kept (longer inputs are cut, with a warning)")
    max_target_length: int = Field(128, ge=1, description="target tokens trained on")
    source_prefix: str | None = Field(
        None, description="text put before every source (T5: from the model's config when unset)"
    )
    freeze: Literal["none", "encoder", "decoder"] = Field(
        "none",
        description="keep the encoder or the decoder at its pretrained weights (the decoder's "
        "cross-attention and any new joint still train)",
    )
    skip_empty: bool = Field(False, description="drop examples with an empty source or target instead of failing")
    new_modules_learning_rate: float | None = Field(
        None,
        description="learning rate of the modules a warm start adds (cross-attention, projection); "
        "unset: learning_rate. Randomly initialised joints may need more than pretrained parts",
    )
    trim_target_vocabulary: bool | None = Field(
        None,
        description="when training, keep only the target tokens the training data needs (a decoder with its own "
        "byte-level BPE, e.g. the warm-started Whisper decoder: 51,865 -> 7,339 for the bundled verses); unset: trim "
        "where possible; false: never",
    )
    vocabulary_margin: int = Field(
        1000, ge=0, description="the most frequent pieces of the original vocabulary kept beyond the training data's"
    )


# parameters that new modules of a warm-started decoder hold: they train even with --freeze decoder
MAX_INPUT_CHARS = 20_000  # bounds one request's work (CLI and demo); longer inputs are refused with this number
TRAINABLE_WHEN_FROZEN = ("crossattention", "encoder_attn", "enc_to_dec_proj", "cls.predictions.transform")
# modules a warm start creates from scratch (Whisper's encoder_attn is pretrained, so it is not one of them)
NEW_IN_WARM_START = ("crossattention", "enc_to_dec_proj", "cls.predictions.transform")


class Seq2SeqTask(TaskDefaults):
    params_class = Seq2SeqParams
    # modules a warm start creates (absent from Hub models): under LoRA they train in full, not low-rank
    head_modules: tuple[str, ...] = ("enc_to_dec_proj", "crossattention")
    speed_sample = {"latency_examples": 16, "throughput_examples": 64}  # each example is a whole generation
    input_fields = ("text",)
    audit_columns = {"source": "text", "target": "target-text"}
    output_name = "output"  # how `omnitune predict` and the demo label the generated text
    action_name = "Generate"  # the demo's button
    source_column = "source"
    target_column = "target"
    bundled_data: str  # folder of the bundled split files

    def columns(self, params) -> tuple[str | tuple[str, ...], str | tuple[str, ...]]:
        return self.source_column, self.target_column

    def load_examples(self, params: Seq2SeqParams, split: str) -> Dataset:
        source_column, target_column = self.columns(params)
        examples = data.load_pairs(
            params.data or self.bundled_data,
            params.split_name(split),
            source_column,
            target_column,
            params.column_mapping,
            params.skip_empty,
        )
        return params.limited(examples, split)

    # -- model ---------------------------------------------------------------------------------------------------
    def build(
        self, model_path: str, params: Seq2SeqParams, examples: Dataset | None = None, training: bool = False
    ) -> Built:
        try:
            tokenizers = TokenizerPair.from_pretrained(model_path)
            model = AutoModelForSeq2SeqLM.from_pretrained(
                model_path, **load_kwargs(params.allow_pickle), **config_overrides(model_path, params.attention_dropout)
            )
        except (OSError, ValueError) as error:
            raise hub_failure(model_path, error) from None
        configure_attention(model, params, model_path)
        condition = self.conditioning(model, tokenizers, params)
        if training and examples is not None and wants_trim(params, tokenizers):
            targets = list(examples["target"])
            trimmed = vocabulary_trim.trim_tokenizer(tokenizers.target, targets, params.vocabulary_margin)
            vocabulary_trim.trim_decoder(model, trimmed.kept_old_ids)
            tokenizers = TokenizerPair(tokenizers.source, trimmed.tokenizer)
            condition = self.conditioning(model, tokenizers, params)
            condition.notes.append(trimmed.note)
        condition.model_start_token_id = (
            condition.decoder_start_token_id
            or model.generation_config.decoder_start_token_id
            or model.config.decoder_start_token_id
        )
        tokenizers.condition = condition
        model.config.omnitune_conditioning = condition.notes  # saved with the model; the model card prints it
        if params.freeze != "none":
            freeze(model, params.freeze)
        return Built(model, tokenizers, generates=True)

    def conditioning(self, model, tokenizers: TokenizerPair, params: Seq2SeqParams) -> Conditioning:
        raise NotImplementedError

    # -- data ----------------------------------------------------------------------------------------------------
    def features(self, examples: Dataset, built: Built, params: Seq2SeqParams, for_eval: bool) -> Dataset:
        tokenizers: TokenizerPair = built.processor
        condition = tokenizers.condition
        start = condition.model_start_token_id

        def tokenize(batch):
            inputs = tokenizers.source(
                [condition.source_prefix + s for s in batch["source"]],
                max_length=params.max_source_length,
                truncation=True,
            )
            cut = sum(len(ids) == params.max_source_length for ids in inputs["input_ids"])
            if cut:
                warnings.warn(
                    f"{cut} of {len(batch['source'])} sources reach max_source_length "
                    f"({params.max_source_length} tokens) and are cut there; raise it if the model allows",
                    stacklevel=2,
                )
            labels = tokenizers.target(
                text_target=batch["target"], max_length=params.max_target_length + 1, truncation=True
            ).input_ids
            # the model prepends its decoder start token itself: labels must not carry it (Whisper, BERT's [CLS])
            inputs["labels"] = [
                ids[1:] if start is not None and ids and ids[0] == start else ids[: params.max_target_length]
                for ids in labels
            ]
            return inputs

        return examples.map(tokenize, batched=True, remove_columns=examples.column_names)

    def collator(self, built: Built, params: Seq2SeqParams) -> Any:
        return DataCollatorForSeq2Seq(built.processor.source, label_pad_token_id=-100, padding=True)

    def optimizer(self, model, params: Seq2SeqParams):
        """AdamW with its own learning rate for the joints a warm start adds, when one is set."""
        if params.new_modules_learning_rate is None:
            return None
        new, pretrained = [], []
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                (new if any(key in name for key in NEW_IN_WARM_START) else pretrained).append(parameter)
        if not new:  # e.g. a Hub encoder-decoder trained on the bundled data, whose defaults set the rate
            warnings.warn(
                "new_modules_learning_rate ignored: the model has no warm-start joints (it was trained "
                "as an encoder-decoder); every parameter uses learning_rate",
                stacklevel=2,
            )
            return None
        return torch.optim.AdamW(
            [
                {"params": pretrained, "lr": params.learning_rate},
                {"params": new, "lr": params.new_modules_learning_rate},
            ],
            lr=params.learning_rate,
            weight_decay=params.weight_decay,
        )

    def training_generation(self, built: Built, params: Seq2SeqParams):
        """Generation during training-time evaluation: greedy (a beam over every validation set each epoch
        would cost more than the training itself on a CPU); the final test uses the full settings."""
        settings = generation.settings_of(params).model_copy(update={"num_beams": 1})
        return generation.generation_config(built.model, settings, built.processor.condition)

    def decode(
        self, examples: Dataset, features: Dataset, outputs: Any, built: Built, params: Seq2SeqParams
    ) -> list[str]:
        tokenizers: TokenizerPair = built.processor
        ids = outputs[0] if isinstance(outputs, tuple) else outputs
        ids = np.where(ids < 0, tokenizers.pad_token_id, ids)
        return [text.strip() for text in tokenizers.target.batch_decode(ids, skip_special_tokens=True)]

    def predict(self, built: Built, examples: Any, params: Seq2SeqParams, batch_size: int) -> list[str]:
        tokenizers: TokenizerPair = built.processor
        return generation.generate(
            built.model,
            tokenizers,
            list(examples["source"]),
            tokenizers.condition,
            generation.settings_of(params),
            params.max_source_length,
            batch_size,
        )

    def metric_inputs(self, answers: list[str], examples: Dataset, params: Seq2SeqParams) -> dict[str, Any]:
        return {"predictions": answers, "references": list(examples["target"])}

    def search_space(self, params: Seq2SeqParams) -> dict[str, dict[str, Any]]:
        """The shared optimiser dimensions, and the beam width the outputs are generated with."""
        return {**super().search_space(params), "num_beams": {"type": "categorical", "choices": [1, 2, 4]}}

    def example_from_inputs(self, inputs: dict, params: Seq2SeqParams) -> dict:
        text = str(inputs.get("text") or "").strip()
        if not text:
            raise OmnituneError(f"The input is empty: type or paste the text to {self.action_name.lower()}.")
        if len(text) > MAX_INPUT_CHARS:
            raise OmnituneError(
                f"The input has {len(text):,} characters; the limit is {MAX_INPUT_CHARS:,}. Paste a shorter part."
            )
        return {"source": [text], "target": [""]}

    def describe_input(self, example: dict, built: Built, params: Seq2SeqParams) -> dict:
        """Counts, and where the input was cut when it is longer than the model reads (never a silent cut)."""
        report = input_report(built.processor, example["source"][0], params.max_source_length)
        if not report["cut"]:
            return {"input": report}
        warning = (
            f"the input was cut: the model read {report['token_limit']} of its {report['tokens']} tokens, up to "
            f"character {report['read_up_to_character']:,}; shorten the text or split it"
        )
        return {"input": report, "warning": warning}

    def describe_answer(self, answer: str, built: Built, params: Seq2SeqParams) -> dict:
        return {self.output_name: answer}


def wants_trim(params: Seq2SeqParams, tokenizers: TokenizerPair) -> bool:
    """Unset: trim a separate byte-level BPE target vocabulary; true: the model must have one."""
    if params.trim_target_vocabulary is False:
        return False
    possible = not tokenizers.shared and vocabulary_trim.can_trim(tokenizers.target)
    if params.trim_target_vocabulary and not possible:
        raise OmnituneError(
            "--trim_target_vocabulary needs a target tokenizer of its own with a byte-level BPE vocabulary "
            "(a warm-started decoder such as minilm2whisper-base); this model shares one vocabulary",
            "drop --trim_target_vocabulary",
        )
    return possible


def freeze(model, part: str) -> None:
    """Stop gradients into the encoder or the decoder; a decoder's cross-attention and new joints keep training,
    since they are what connects it to the encoder."""
    module = model.get_encoder() if part == "encoder" else model.get_decoder()
    if module is None:
        raise OmnituneError(f"{type(model).__name__} has no separate {part} to freeze", "use --freeze none")
    for name, parameter in module.named_parameters():
        if part == "decoder" and any(key in name for key in TRAINABLE_WHEN_FROZEN):
            continue
        parameter.requires_grad_(False)
