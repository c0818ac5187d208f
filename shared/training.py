"""Fine-tuning any task with transformers' Trainer: full fine-tuning or LoRA, time budget, early stopping,
checkpoints every `save_steps`, and resume from the last checkpoint with the same result as an uninterrupted run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import (
    EarlyStoppingCallback,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from shared import distributed
from shared import run_dir as layout
from shared.config import TrainParams, dump_params
from shared.lora import apply_lora, trainable_share
from shared.plots import plot_loss_curve
from shared.pretrained import resolve
from shared.task_protocol import Built, Scorer, Task, TrainResult


class _InOrderEvaluation:
    """transformers 5 also length-groups the *evaluation* batches when training is length-grouped; metrics that
    map predictions back to examples (QA spans, references) need evaluation in dataset order."""

    def _get_eval_sampler(self, eval_dataset):
        return torch.utils.data.SequentialSampler(eval_dataset) if eval_dataset is not None else None


class EpochSeededLengthGroups(LengthGroupedSampler):
    """transformers' length-grouped order is drawn from the global random state when an epoch starts; after a
    resume in epoch 2 or later that state is not the one the interrupted run had there, so the rest of the run saw
    other batches (another final F1). Each epoch's order drawn from (seed, epoch) is the same either way."""

    def __init__(self, sampler: LengthGroupedSampler, seed: int):
        super().__init__(sampler.batch_size, lengths=sampler.lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:  # the Trainer calls it before every epoch, resumed or not
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class _LengthGroups:
    """Length-grouped training batches that resume exactly (EpochSeededLengthGroups). transformers groups in
    chunks of the per-device batch; on N processes a step then mixes N length groups, a different path through
    the data than one process takes. Chunks of the global batch keep one process's steps: each rank takes its
    slice of the same length group."""

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if not isinstance(sampler, LengthGroupedSampler):
            return sampler
        sampler = EpochSeededLengthGroups(sampler, self.args.seed)
        sampler.batch_size *= self.args.world_size
        return sampler


class _Trainer(_LengthGroups, _InOrderEvaluation, Trainer):
    pass


class _Seq2SeqTrainer(_LengthGroups, _InOrderEvaluation, Seq2SeqTrainer):
    """Evaluates by generating (predict-with-generate), for tasks whose metric compares generated text."""


class TimeBudget(TrainerCallback):
    """Stops training after `minutes`; Trainer then saves and finishes normally. A safety net, not a budget:
    budgets are steps or examples. Under a launcher the main process's clock decides for every rank, since one
    rank stopping a step before the others would leave them waiting for it forever."""

    def __init__(self, minutes: float):
        self.deadline = time.monotonic() + minutes * 60
        self.stopped = False

    def on_step_end(self, args, state, control, **kwargs):
        if distributed.from_main(lambda: time.monotonic() > self.deadline):
            self.stopped = control.should_training_stop = control.should_save = True


class LiveTrainLog(TrainerCallback):
    """Appends each of Trainer's log entries to the run's train_log.jsonl as it happens, so a loss curve can be
    followed while the run trains (the web app draws it; `tail -f` works too). The finished run rewrites the file
    with the whole history; a resumed run carries on from its checkpoint's history."""

    def __init__(self, path: Path):
        self.path = path

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:  # on resume, what the checkpoint knew so far
            self.path.write_text("".join(json.dumps(entry) + "\n" for entry in state.log_history))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with self.path.open("a") as log:
                log.write(json.dumps({**logs, "step": state.global_step}) + "\n")


def training_arguments(
    params: TrainParams,
    run: Path,
    has_eval: bool,
    generation=None,
    skips_parameters: bool = False,
    greater_is_better: bool | None = None,
) -> TrainingArguments:
    """Trainer's arguments from omnitune's parameters; with a `generation` config, Seq2Seq arguments that
    evaluate by generating with it. `skips_parameters`: the model may leave some trainable parameters out of a
    step (see may_skip_parameters). `greater_is_better`: the direction of metric_for_best_model."""
    find_unused = params.ddp_find_unused_parameters
    find_unused = skips_parameters if find_unused is None else find_unused
    eval_strategy = params.eval_strategy if has_eval else "no"
    best = params.metric_for_best_model
    early = params.early_stopping_patience is not None and eval_strategy != "no"
    arguments_class, extra = TrainingArguments, {}
    if generation is not None:
        arguments_class, extra = (
            Seq2SeqTrainingArguments,
            {"predict_with_generate": True, "generation_config": generation},
        )
    return arguments_class(
        output_dir=str(run / layout.CHECKPOINTS),
        learning_rate=params.learning_rate,
        num_train_epochs=params.num_train_epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.per_device_train_batch_size,
        per_device_eval_batch_size=params.per_device_eval_batch_size,
        gradient_accumulation_steps=params.gradient_accumulation_steps,
        # transformers 5 folds warmup_ratio into warmup_steps: a float below 1 is a share of the steps
        warmup_steps=params.warmup_steps or params.warmup_ratio,
        weight_decay=params.weight_decay,
        lr_scheduler_type=params.lr_scheduler_type,
        seed=params.seed,
        data_seed=params.seed,
        eval_strategy=eval_strategy,
        eval_steps=params.eval_steps,
        # early stopping keeps the best checkpoint, which needs saving in step with evaluation
        save_strategy=eval_strategy if early else "steps",
        save_steps=params.eval_steps if early and eval_strategy == "steps" else params.save_steps,
        save_total_limit=params.save_total_limit,
        logging_steps=params.logging_steps,
        load_best_model_at_end=early,
        metric_for_best_model=best if early else None,
        greater_is_better=None if best is None else greater_is_better,
        train_sampling_strategy="group_by_length" if params.group_by_length else "random",
        report_to=params.report_to,
        remove_unused_columns=params.remove_unused_columns,
        dataloader_num_workers=0,
        disable_tqdm=False,
        # CUDA, else MPS, else the CPU (where more than one process forms a gloo group)
        use_cpu=not distributed.accelerator_available(),
        bf16=params.bf16,
        fp16=params.fp16,
        activation_checkpointing=params.gradient_checkpointing,
        torch_compile=params.torch_compile,
        optim=params.optim,
        # DDP: a model that uses all of its trainable parameters in each step does not need the extra autograd
        # traversal that hunts for unused ones (Trainer's default turns it on for every model)
        ddp_find_unused_parameters=find_unused,
        **extra,
    )


def may_skip_parameters(model: torch.nn.Module) -> bool:
    """Whether a training step can leave trainable parameters without a gradient: LayerDrop skips whole layers
    at random, wav2vec2-style models use their mask embedding only where SpecAugment masks, and an encoder's
    pooler is unused by heads that read the hidden states (a warm-started encoder-decoder's encoder)."""
    config = getattr(model, "config", None)
    drops = any(getattr(config, name, 0) or 0 for name in ("layerdrop", "encoder_layerdrop", "decoder_layerdrop"))
    trainable = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    sometimes_unused = any(name.endswith("masked_spec_embed") or ".pooler." in f".{name}" for name in trainable)
    return bool(drops or sometimes_unused)


def cuda_available() -> bool:
    return torch.cuda.is_available()


def fine_tune(
    task: Task,
    params: TrainParams,
    scorer: Scorer | None,
    run: Path,
    resume: bool = False,
    log: Callable[[str], None] = print,
    callbacks: list[TrainerCallback] | None = None,
    prepare: Callable[[Built], None] | None = None,
) -> TrainResult:
    """Train `task` as `params` say, into the run folder `run`. Under a distributed launcher every rank trains
    (Trainer's DDP, FSDP or DeepSpeed, as the launcher configured it) and only the main process logs and writes.
    `prepare` adjusts the built model before training (e.g. installs a linear probe's head)."""
    log = distributed.main_log(log)
    # Data first: a wrong column must fail before minutes are spent loading a model.
    train_examples = task.load_examples(params, "train")
    eval_examples = task.load_examples(params, "eval") if params.eval_strategy != "no" else None
    base_model = params.model or task.default_model
    with distributed.main_first():  # a shelf entry is prepared (written) once
        model_path = resolve(base_model, params.allow_pickle, log=log)
    set_seed(params.seed)  # new heads (and LoRA) are initialised here, before Trainer seeds anything
    built = task.build(model_path, params, train_examples, training=True)
    if prepare is not None:
        prepare(built)
    if params.peft == "lora":
        built.model = apply_lora(
            built.model,
            params.lora_r,
            params.lora_alpha,
            params.lora_dropout,
            params.lora_target_modules,
            task.head_modules,
            params.lora_scope,
        )
    model = built.model
    trainable, total = trainable_share(model)
    processes = distributed.world_size()
    global_batch = params.per_device_train_batch_size * processes * params.gradient_accumulation_steps
    log(
        f"{task.name}: {len(train_examples)} training examples, model {base_model} "
        f"({trainable / 1e6:.2f}M of {total / 1e6:.2f}M parameters trainable)"
        + (f"; {processes} processes, global batch {global_batch}" if processes > 1 else "")
    )

    if distributed.is_main():
        run.mkdir(parents=True, exist_ok=True)
        dump_params(params, run / layout.CONFIG)
    train_features = task.features(train_examples, built, params, for_eval=False)
    eval_features = task.features(eval_examples, built, params, for_eval=True) if eval_examples else None

    scores = scorer is not None and task.scores_during_training

    def compute_metrics(prediction) -> dict[str, float]:
        return scorer.score(
            task.decode(eval_examples, eval_features, prediction.predictions, built, params), eval_examples
        )

    if params.metric_for_best_model is None and scores:
        params = params.model_copy(update={"metric_for_best_model": task.primary_metric})
    best = params.metric_for_best_model
    callbacks = [*(callbacks or []), LiveTrainLog(run / layout.TRAIN_LOG)]
    budget = TimeBudget(params.max_train_minutes) if params.max_train_minutes else None
    if budget:
        callbacks.append(budget)
    # a task that generates text (translation, summarization) is evaluated by generating during training
    generation = task.training_generation(built, params)
    args = training_arguments(
        params,
        run,
        has_eval=eval_features is not None,
        generation=generation,
        skips_parameters=may_skip_parameters(model),
        greater_is_better=None if best is None else _higher_is_better(best, scorer),
    )
    if args.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=params.early_stopping_patience))
    # a task may bring its own optimizer (e.g. layer-wise learning rates); Trainer then makes only the schedule
    optimizer = task.optimizer(model, params)
    trainer_class = _Seq2SeqTrainer if generation is not None else _Trainer
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train_features,
        eval_dataset=eval_features,
        optimizers=(optimizer, None),
        compute_loss_func=task.loss_function(),
        data_collator=task.collator(built, params),
        processing_class=built.processor,
        compute_metrics=compute_metrics if eval_features is not None and scores else None,
        callbacks=callbacks,
    )
    checkpoint = layout.last_checkpoint(run) if resume else None
    if resume:
        log(f"resuming from {checkpoint}")
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.monotonic() - started

    model_dir = run / (layout.ADAPTER if params.peft == "lora" and not params.merge_lora else layout.MODEL)
    _save_final(trainer, built.processor, run, params)
    if distributed.is_main():
        task.save_extras(built, model_dir)
        history = trainer.state.log_history
        (run / layout.TRAIN_LOG).write_text("".join(json.dumps(entry) + "\n" for entry in history))
        plot_loss_curve(history, run / layout.LOSS_CURVE, primary=f"eval_{task.primary_metric}")
    distributed.wait()  # the other ranks go on to read what the main process saved
    if budget and budget.stopped:
        log(
            f"stopped by the time limit (max_train_minutes {params.max_train_minutes}) at step "
            f"{trainer.state.global_step}; the model was saved there"
        )
    return TrainResult(
        run=run,
        model_dir=model_dir,
        base_model=base_model,
        train_seconds=seconds,
        train_examples=len(train_examples),
        trainable_parameters=trainable,
        total_parameters=total,
        stopped_by_budget=bool(budget and budget.stopped),
        processes=processes,
    )


def _higher_is_better(metric: str, scorer: Scorer | None) -> bool:
    """Trainer's own losses go down; the task metric's scores go the way its module declares."""
    if metric.removeprefix("eval_") == "loss" or scorer is None:
        return False
    return scorer.higher_is_better(metric.removeprefix("eval_"))


def _save_final(trainer: Trainer, processor, run: Path, params: TrainParams) -> None:
    """The final model (and processor) through Trainer.save_model, called on every rank: under FSDP or DeepSpeed
    ZeRO-3 the ranks gather the sharded weights together, and only the main process writes."""
    target = run / (layout.ADAPTER if params.peft == "lora" else layout.MODEL)
    trainer.save_model(str(target))
    if distributed.is_main():
        (target / "training_args.bin").unlink(missing_ok=True)  # pickled; config.yaml holds the parameters
        if params.peft == "lora" and params.merge_lora:
            merged = trainer.model.merge_and_unload()
            merged.save_pretrained(run / layout.MODEL, safe_serialization=True)
            processor.save_pretrained(run / layout.MODEL)
