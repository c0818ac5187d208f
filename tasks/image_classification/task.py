"""Image classification: the task protocol's answers (shared/task_protocol.py) for Vision Transformers, CNNs
and timm models alike. transformers' AutoModelForImageClassification is the one interface: it loads ViT/DeiT/
Swin/DINOv2 checkpoints natively and timm models (a `timm/...` Hub id or a timm folder such as the shelf's
efficientnet-lite0) through TimmWrapperForImageClassification, so every backbone gets the same training,
evaluation, compression and demo paths.

Modes: `linear-probe` (frozen backbone, cached features, head only) and `finetune` (everything trains; the head
is first fitted by a linear probe on cached features, "LP-FT", Kumar et al. 2022, unless --head_warmup false;
optional layer-wise learning-rate decay). `--peft lora` adapts the attention projections of ViTs.
"""

from __future__ import annotations

import inspect
import json
import re
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from datasets import Dataset
from pydantic import Field
from torchvision.transforms import v2
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForImageClassification,
    default_data_collator,
    set_seed,
)

from shared import distributed
from shared import run_dir as layout
from shared.attention.setup import configure_attention
from shared.config import TrainParams, dump_params
from shared.errors import OmnituneError
from shared.pretrained import hub_failure, load_kwargs, load_noting_fresh_weights, resolve
from shared.task_defaults import TaskDefaults
from shared.task_protocol import Built, Quickstart, Scorer
from shared.training import TrainResult, fine_tune
from tasks.image_classification import data, linear_probe, shelf_entries  # noqa: F401 (registers the hybrid)
from tasks.image_classification.feature_probe import FeatureProbeForImageClassification
from tasks.image_classification.memory_format import channels_last_for_convolutions
from tasks.image_classification.preprocessing import AUGMENTATIONS, from_processor, transform, update_processor

_DEPTH = re.compile(r"\.(?:layer|layers|blocks|stages)\.(\d+)\.")


class ImageParams(TrainParams):
    mode: Literal["linear-probe", "finetune"] = Field(
        "linear-probe", description="linear-probe: frozen backbone, cached features; finetune: train everything"
    )
    image_size: int | None = Field(None, description="input side in pixels (default: the backbone's own config)")
    whole_image: bool = Field(
        False,
        description="resize the whole image to the input size instead of the backbone's resize + centre "
        "crop (small images whose subject fills the frame)",
    )
    augmentation: Literal[AUGMENTATIONS] = Field(
        "crop-flip",
        description="fine-tuning augmentation: none, flip (whole image), crop-flip (random resized "
        "crop, ImageNet style), trivialaugment or randaugment (crop-flip plus a policy)",
    )
    augmix: bool = Field(
        False,
        description="fine-tuning: add AugMix (Hendrycks et al. 2020) to the augmentation: mixed chains of "
        "geometric and tonal operations that make a classifier more robust to corruptions such as blur and noise",
    )
    layer_decay: float | None = Field(None, gt=0, le=1, description="layer-wise learning-rate decay (e.g. 0.75)")
    head_warmup: bool = Field(True, description="finetune: start from a linear-probe head (LP-FT)")
    probe_epochs: int = Field(100, description="linear-probe epochs over the cached features")
    probe_learning_rate: float = 1e-3
    probe_layers: int = Field(
        1,
        ge=1,
        description="linear probe on a ViT: [class, mean patch] tokens of the last N "
        "layers (1: what the model's own head reads)",
    )
    probe_regions: int = Field(
        1, ge=1, description="linear probe on a ViT: also the mean patch token of each cell of an R x R grid (1: none)"
    )
    probe_mirror: bool = Field(
        False,
        description="linear probe on a ViT: features averaged over the image and its "
        "mirror image (twice the backbone's work per image)",
    )
    bad_images: Literal["fail", "skip"] = Field("fail", description="unreadable image files: fail, or skip them")
    group_by_length: bool = False  # images are all the same size once preprocessed
    # Trainer would strip the marker that tells the mixing collator a batch is for training
    remove_unused_columns: bool = False
    lora_scope: Literal["all-linear", "attention"] = Field(
        "attention", description="LoRA on the attention projections (the usual choice for ViTs), or all Linear"
    )
    freeze_norm_statistics: bool = Field(
        False, description="finetune: keep batch-norm running statistics as pretrained (small or shifted data)"
    )
    mixup_alpha: float = Field(0.0, ge=0, description="mixup (Zhang et al. 2018) Beta alpha while fine-tuning; 0: off")
    cutmix_alpha: float = Field(
        0.0,
        ge=0,
        description="CutMix (Yun et al. 2019) Beta alpha; with mixup, one of the two is picked per batch; 0: off",
    )
    top_k: int = Field(5, description="labels shown by predict and the demo")
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="predict and the demo say 'uncertain' when the top class is less likely"
    )


MIXABLE = "mixable"  # marks training items, so the mixing collator leaves evaluation batches alone


class ImageTensors(torch.utils.data.Dataset):
    """Rows -> {"pixel_values", "labels"}, decoding and transforming each image when it is read."""

    def __init__(self, examples: Dataset, preprocess, mixable: bool = False):
        self.images, self.labels, self.preprocess = examples["image"], examples["label"], preprocess
        self.mixable = mixable

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        with data.open_image(self.images[index]) as image:
            pixels = self.preprocess(image)
        item = {"pixel_values": pixels, "labels": int(self.labels[index])}
        return {**item, MIXABLE: True} if self.mixable else item


class MixingCollator:
    """Stacks a batch, then mixes training batches with torchvision's MixUp / CutMix (labels become class
    probabilities; `ImageClassificationTask.loss` takes either kind)."""

    def __init__(self, classes: int, mixup_alpha: float, cutmix_alpha: float):
        mixers = [m for alpha, m in ((mixup_alpha, v2.MixUp), (cutmix_alpha, v2.CutMix)) if alpha > 0]
        alphas = [a for a in (mixup_alpha, cutmix_alpha) if a > 0]
        self.mix = v2.RandomChoice([m(alpha=a, num_classes=classes) for m, a in zip(mixers, alphas)])

    def __call__(self, items: list[dict]) -> dict:
        mixable = all(item.pop(MIXABLE, False) for item in items)
        batch = default_data_collator(items)
        if mixable:
            batch["pixel_values"], batch["labels"] = self.mix(batch["pixel_values"], batch["labels"])
        return batch


class ImageClassificationTask(TaskDefaults):
    name = "image-classification"
    params_class = ImageParams
    default_model = "dinov2-small"
    default_data_name = "omnitune/fashion-mnist-subset"
    metric = "classification"
    primary_metric = "accuracy"
    head_modules = ("classifier",)
    # The bundled images are 28 px (Fashion-MNIST) and 64 px (clip art): 112 px inputs lose nothing and cost a
    # quarter of 224 px on a CPU (DINOv2-S: 69 vs 13 images/s, measured).
    # Crops cut garments in half (a shirt's sleeves tell it from a t-shirt): flips only on the bundled sets, and
    # no centre crop: the DINOv2-S linear probe goes from 80.9% to 83.8% with the whole garment in view (measured).
    # 2,000 grey 28 px images would drag ImageNet batch-norm statistics off course (Lite0 fine-tuning: 81.7%
    # with them updated, 86.6% kept as pretrained, measured).
    # A ViT's linear probe reads its last 4 layers and 2 x 2 regions: DINOv2-S 83.8% -> 85.1% (validation 86.4 ->
    # 88.0); the mirror image ties on validation (88.0) at twice the cost, so it stays an option (measured).
    bundled_data_defaults = {
        "image_size": 112,
        "whole_image": True,
        "augmentation": "flip",
        "probe_layers": 4,
        "probe_regions": 2,
        "freeze_norm_statistics": True,
        "learning_rate": 5e-5,
        "num_train_epochs": 2.0,
        "per_device_train_batch_size": 32,
        "max_train_minutes": 20.0,
        "warmup_ratio": 0.1,
    }
    quickstart = Quickstart(minutes=2.0, full_run="omnitune train image-classification   (what the quickstart ran)")
    input_fields = ("image",)
    audit_columns = {"image": "image", "label": "label"}

    # 1. examples (their "label" column is a ClassLabel that names the classes)
    def load_examples(self, params: ImageParams, split: str) -> Dataset:
        examples = data.load_examples(params.data, params.split_name(split), params.column_mapping, params.bad_images)
        return params.limited(examples.rows, split)

    # 3. model + processor: a new head for the training data's classes; evaluated data must have the model's
    def build(
        self, model_path: str, params: ImageParams, examples: Dataset | None = None, training: bool = False
    ) -> Built:
        wanted = examples.features["label"].names if examples is not None else None
        try:
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
            current = [config.id2label[i] for i in range(config.num_labels)]
            new_head = training and wanted is not None and current != wanted
            if not training and wanted and current != wanted:
                raise OmnituneError(
                    f"{model_path} predicts {len(current)} classes ({', '.join(current[:5])}...) but the data has "
                    f"{len(wanted)} ({', '.join(wanted[:5])}...)",
                    "evaluate a model trained on this data's classes, or train one: omnitune train "
                    "image-classification --data ...",
                )
            head = (
                {
                    "num_labels": len(wanted),
                    "id2label": dict(enumerate(wanted)),
                    "label2id": {name: i for i, name in enumerate(wanted)},
                    "ignore_mismatched_sizes": True,
                }
                if new_head
                else {}
            )
            model, fresh = load_noting_fresh_weights(
                AutoModelForImageClassification, model_path, **load_kwargs(params.allow_pickle), **head
            )
            if new_head and hasattr(model.config, "label_names"):
                # timm's wrapper saves its own label_names, left at the pretrained classes by a new id2label
                model.config.label_names = list(wanted)
            processor = AutoImageProcessor.from_pretrained(model_path, trust_remote_code=False)
        except (OSError, ValueError) as error:
            raise hub_failure(model_path, error) from None
        configure_attention(model, params, model_path)
        spec = from_processor(processor).at_size(params.image_size)
        if params.whole_image:
            spec = spec.whole_image()
        update_processor(processor, spec)
        if getattr(model.config, "pretrained_cfg", None):  # timm models keep their preprocessing in config.json
            model.config.pretrained_cfg.update(processor.data_config)
        if "interpolate_pos_encoding" in inspect.signature(model.forward).parameters:
            # ViT-family models refuse other input sizes unless asked to resize their position embeddings
            model.register_forward_pre_hook(_interpolate_positions, with_kwargs=True)
        if params.freeze_norm_statistics and isinstance(model, torch.nn.Module):  # an ONNX graph has no modules
            for module in model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.register_forward_pre_hook(_use_running_statistics)
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        return Built(model, processor, labels=labels, untrained=fresh)

    # 2. features
    def features(self, examples: Dataset, built: Built, params: ImageParams, for_eval: bool) -> ImageTensors:
        spec = from_processor(built.processor)
        return ImageTensors(
            examples,
            transform(spec, training=not for_eval, augmentation=params.augmentation, augmix=params.augmix),
            mixable=not for_eval and _mixing(params) is not None,
        )

    def collator(self, built: Built, params: ImageParams) -> Any:
        mixing = _mixing(params)
        return default_data_collator if mixing is None else MixingCollator(len(built.labels), *mixing)

    def loss_function(self):
        return mixed_cross_entropy

    # 4. outputs -> answers (class probabilities)
    def decode(self, examples: Any, features: Any, outputs: Any, built: Built, params: ImageParams) -> list:
        return probabilities_of(outputs)

    def predict(self, built: Built, examples: Any, params: ImageParams, batch_size: int) -> list:
        preprocess = transform(from_processor(built.processor), training=False)
        probabilities = []
        built.model.eval()
        with channels_last_for_convolutions(built.model) as layout, torch.inference_mode():
            for start in range(0, len(examples["image"]), batch_size):
                batch = []
                for value in examples["image"][start : start + batch_size]:
                    with data.open_image(value) as image:
                        batch.append(preprocess(image))
                pixels = torch.stack(batch).contiguous(memory_format=layout)
                probabilities += probabilities_of(built.model(pixel_values=pixels).logits)
        return probabilities

    # 5. metric inputs
    def metric_inputs(self, answers: list, examples: Any, params: ImageParams) -> dict[str, Any]:
        names = examples.features["label"].names if isinstance(examples, Dataset) else None
        return {"predictions": answers, "references": list(examples["label"]), "label_names": names}

    def baseline(self, examples: Dataset, params: ImageParams) -> tuple[str, list] | None:
        """Every image gets the training split's most frequent class: what a model that ignores the image does."""
        try:
            train = self.load_examples(params, "train")
        except OmnituneError:  # data with no training split (a test folder alone): no baseline to learn
            return None
        counts = np.bincount(train["label"], minlength=examples.features["label"].num_classes)
        guess = [0.0] * len(counts)
        guess[int(counts.argmax())] = 1.0
        return "most frequent training class", [list(guess) for _ in range(len(examples))]

    def write_artifacts(self, answers: list, examples: Any, params: ImageParams, folder: Path, split: str) -> None:
        from shared.plots import plot_confusion_matrix

        names = examples.features["label"].names
        predicted = [int(np.argmax(a)) for a in answers]
        plot_confusion_matrix(list(examples["label"]), predicted, names, folder / f"confusion_matrix_{split}.png")

    # the command line: `omnitune predict image-classification --model M --image photo.jpg`
    def example_from_inputs(self, inputs: dict[str, Any], params: ImageParams) -> dict[str, list]:
        path = Path(str(inputs["image"])).expanduser()
        if not path.is_file():
            raise OmnituneError(f"image file {path} does not exist", "check the path given to --image")
        data.open_upload(path)
        return {"image": [{"path": str(path.resolve()), "bytes": None}]}

    def describe_answer(self, answer: list[float], built: Built, params: ImageParams) -> dict[str, Any]:
        return {"labels": top_labels(answer, dict(enumerate(built.labels)), params.top_k)}

    def low_confidence(self, described: dict[str, Any], params: ImageParams) -> str | None:
        label, probability = next(iter(described["labels"].items()))
        if probability >= params.min_confidence:
            return None
        return (
            f"uncertain: the top class '{label}' is only {probability:.0%} likely "
            f"(below --min_confidence {params.min_confidence:g})"
        )

    def search_space(self, params: ImageParams) -> dict[str, dict[str, Any]]:
        """A linear probe has its own learning rate and epochs (the backbone does not train)."""
        if params.mode == "finetune":
            return super().search_space(params)
        return {
            "probe_learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "probe_epochs": {"type": "int", "low": 20, "high": 200},
        }

    # training: linear probe, or LP-FT through the shared Trainer path
    def train(
        self,
        params: ImageParams,
        scorer: Scorer | None,
        run: Path,
        resume: bool = False,
        log=print,
        callbacks: list | None = None,
    ) -> TrainResult:
        if params.mode == "finetune":
            head = self._probe(params, run, log)[0] if params.head_warmup else None
            install = (lambda built: linear_probe.install_head(built.model, head)) if head else None
            return fine_tune(self, params, scorer, run, resume=resume, log=log, callbacks=callbacks, prepare=install)
        started = time.monotonic()
        probe, timing, model, processor, base_model, examples = self._probe(params, run, log)
        linear_probe.install_head(model, probe)  # the same head on every rank: same features, same seed
        model_dir = run / layout.MODEL
        if distributed.is_main():
            model.save_pretrained(model_dir, safe_serialization=True)
            processor.save_pretrained(model_dir)
        distributed.wait()
        head = linear_probe.classifier_of(model)
        return TrainResult(
            run=run,
            model_dir=model_dir,
            base_model=base_model,
            train_seconds=time.monotonic() - started,
            train_examples=examples,
            trainable_parameters=sum(p.numel() for p in head.parameters()),
            total_parameters=sum(p.numel() for p in model.parameters()),
            stopped_by_budget=False,
            processes=distributed.world_size(),
            extra={"linear_probe": timing},
        )

    def _probe(self, params: ImageParams, run: Path, log):
        """Fit the model's own head on cached features of the train split (validation picks the epoch)."""
        log = distributed.main_log(log)
        train_rows, eval_rows = self.load_examples(params, "train"), self.load_examples(params, "eval")
        base_model = params.model or self.default_model
        with distributed.main_first():  # a shelf entry is prepared (written) once
            model_path = resolve(base_model, params.allow_pickle, log=log)
        set_seed(params.seed)
        built = self.build(model_path, params, train_rows, training=True)
        model, processor = built.model, built.processor
        features = "head"
        if params.mode == "linear-probe":
            model, features = _with_probe_features(model, params, log)
        if distributed.is_main():
            run.mkdir(parents=True, exist_ok=True)
            dump_params(params, run / layout.CONFIG)
        spec = from_processor(processor)
        preprocess = transform(spec, training=False)
        weights = linear_probe.weights_fingerprint(model_path)

        def features_of(rows: Dataset, split: str) -> linear_probe.CachedFeatures:
            def batches(share: range):
                tensors = ImageTensors(rows.select(share), preprocess)
                loader = torch.utils.data.DataLoader(tensors, batch_size=params.per_device_eval_batch_size)
                return (batch["pixel_values"] for batch in loader)

            key = [weights, spec.key(), features, linear_probe.images_fingerprint(rows["image"]), split]
            reduced = getattr(built.model.config, "omnitune_attention", None)
            if reduced:  # features of a model with efficient attention differ from the dense model's
                key.append(json.dumps(reduced, sort_keys=True))
            return linear_probe.cached_features(model, key, list(rows["label"]), batches, log=log)

        train_features, eval_features = features_of(train_rows, "train"), features_of(eval_rows, "eval")
        probe = linear_probe.train_head(
            train_features,
            eval_features,
            classes=len(built.labels),
            epochs=params.probe_epochs,
            learning_rate=params.probe_learning_rate,
            weight_decay=params.weight_decay,
            batch_size=256,
            seed=params.seed,
        )
        extraction = train_features.seconds or None
        timing = {
            "feature_cache_hit": train_features.hit,
            "feature_extraction_seconds": extraction,
            "head_seconds_per_epoch": probe.seconds_per_epoch,
            "best_epoch": probe.best_epoch,
            "validation_accuracy": probe.validation_accuracy,
            # an epoch without the cache = a pass of the backbone over the training images + the head
            "epoch_speedup_with_cache": (extraction + probe.seconds_per_epoch) / probe.seconds_per_epoch
            if extraction
            else None,
        }
        log(
            f"linear probe: validation accuracy {100 * (probe.validation_accuracy or 0):.1f}% at epoch "
            f"{probe.best_epoch}; {json.dumps({k: v for k, v in timing.items() if v is not None})}"
        )
        return probe, timing, model, processor, base_model, len(train_rows)

    # layer-wise learning-rate decay (BEiT / MAE fine-tuning recipe)
    def optimizer(self, model: torch.nn.Module, params: ImageParams):
        if not params.layer_decay:
            return None
        # depth of each parameter: embeddings/stem 0, block i -> i + 1, what follows the blocks (final norm,
        # last convolution) the last block's depth, the head one more; parameters come in forward order
        depths, current = {}, 0
        for name, _ in model.named_parameters():
            match = _DEPTH.search(name)
            current = int(match.group(1)) + 1 if match else current
            depths[name] = current
        deepest = max(depths.values()) + 1
        groups: dict[int, list] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                head = any(f"{h}." in name for h in self.head_modules)
                groups.setdefault(deepest if head else depths[name], []).append(parameter)
        return torch.optim.AdamW(
            [
                {"params": ps, "lr": params.learning_rate * params.layer_decay ** (deepest - d)}
                for d, ps in sorted(groups.items())
            ],
            lr=params.learning_rate,
            weight_decay=params.weight_decay,
        )


def _with_probe_features(model, params: ImageParams, log) -> tuple[Any, str]:
    """The model whose classifier the probe fits, and what its features are (part of the cache key)."""
    wanted = (params.probe_layers, params.probe_regions, params.probe_mirror)
    if wanted == (1, 1, False):
        return model, "head"
    try:
        probe = FeatureProbeForImageClassification.around(model, *wanted)
    except TypeError as error:  # a CNN or hybrid: its head's features (the bundled defaults name ViT options)
        log(f"probe features: {error}; the linear probe reads what its own head receives")
        return model, "head"
    described = "last {} layers, {} x {} regions, mirror {}".format(wanted[0], wanted[1], wanted[1], wanted[2])
    log(f"probe features: {described} ({probe.config.feature_size()} values per image)")
    return probe, described


def _mixing(params: ImageParams) -> tuple[float, float] | None:
    """(mixup, cutmix) alphas while fine-tuning with either; None otherwise."""
    alphas = (params.mixup_alpha, params.cutmix_alpha)
    return alphas if params.mode == "finetune" and any(alphas) else None


def mixed_cross_entropy(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
    """Cross-entropy against class indices or (mixed) class probabilities. Trainer counts every entry of a
    probability matrix as an item, so the count is brought back to examples before normalising."""
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
    total = torch.nn.functional.cross_entropy(
        logits, labels.to(logits.dtype) if labels.ndim == 2 else labels, reduction="sum"
    )
    if num_items_in_batch is None:
        return total / len(labels)
    examples = num_items_in_batch / labels.shape[1] if labels.ndim == 2 else num_items_in_batch
    return total / examples


def probabilities_of(outputs: Any) -> list[list[float]]:
    logits = torch.as_tensor(outputs[0] if isinstance(outputs, tuple) else outputs)
    return logits.float().softmax(-1).tolist()


def _use_running_statistics(module, args):
    module.eval()  # Trainer puts the model in training mode every step; this batch norm stays as pretrained


def _interpolate_positions(module, args, kwargs):
    return args, {**kwargs, "interpolate_pos_encoding": True}


def top_labels(probabilities: list[float], labels: dict[int, str], k: int) -> dict[str, float]:
    order = np.argsort(probabilities)[::-1][:k]
    return {labels[int(i)]: float(probabilities[i]) for i in order}
