"""Image classification on tiny randomly initialised models (a ViT and a timm EfficientNet) and small synthetic
image folders: preprocessing from the backbone config, head replacement, the feature cache, bad files,
training that actually learns, and the CLI path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from transformers import (
    TimmWrapperConfig,
    TimmWrapperForImageClassification,
    ViTForImageClassification,
    ViTImageProcessor,
)

from conftest import COLOURS
from shared.errors import OmnituneError
from tasks.image_classification import data
from tasks.image_classification.preprocessing import from_processor, to_rgb, transform
from tasks.image_classification.task import ImageClassificationTask, ImageParams


def _tiny_timm_folder(tmp_path, architecture: str):
    torch.manual_seed(0)
    cfg = dict(timm.create_model(architecture).pretrained_cfg)  # these need their own input size
    folder = tmp_path / architecture
    TimmWrapperForImageClassification(
        TimmWrapperConfig(architecture=architecture, num_labels=3, pretrained_cfg=cfg)
    ).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("architecture", ["test_coatnet", "test_maxvit"])
def test_timm_hybrid_families_go_through_the_same_path(architecture, colour_folder, tmp_path):
    """CoAtNet and MaxViT (convolution + attention) as any user would name them online (timm/...)."""
    task = ImageClassificationTask()
    params = ImageParams(data=str(colour_folder), model=str(_tiny_timm_folder(tmp_path, architecture)), probe_epochs=50)
    result = task.train(params, None, tmp_path / "run")
    assert result.extra["linear_probe"]["validation_accuracy"] is not None
    assert (result.model_dir / "config.json").is_file()


@pytest.fixture
def tiny_timm(tmp_path):
    torch.manual_seed(0)
    cfg = dict(timm.create_model("test_efficientnet").pretrained_cfg)
    cfg.update(input_size=(3, 40, 40), crop_pct=0.8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    folder = tmp_path / "tiny-timm"
    model = TimmWrapperForImageClassification(
        TimmWrapperConfig(architecture="test_efficientnet", num_labels=3, pretrained_cfg=cfg)
    )
    for module in model.modules():  # timm zero-initialises residual branches' last norm: features would be 0
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(module.weight)
    model.save_pretrained(folder)
    return folder


def test_preprocessing_follows_each_backbone_config(tiny_vit, tiny_timm):
    task = ImageClassificationTask()
    vit_processor = task.build(str(tiny_vit), ImageParams()).processor
    vit = from_processor(vit_processor)
    assert (vit.crop, vit.mean) == (32, (0.2, 0.3, 0.4))
    timm_processor = task.build(str(tiny_timm), ImageParams()).processor
    spec = from_processor(timm_processor)
    assert (spec.crop, spec.resize, spec.std) == (40, 50, (0.25, 0.25, 0.25))
    assert spec.at_size(20).resize == 25  # an --image_size override keeps the crop share


def _framed_image(width: int = 28) -> Image.Image:
    """A dark 28 px high image with a bright 1 px frame: the frame is what a centre crop cuts off."""
    pixels = np.zeros((28, width, 3), np.uint8)
    pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1] = 255, 255, 255, 255
    return Image.fromarray(pixels)


@pytest.mark.parametrize("kind", ["transformers", "timm"])
def test_whole_image_keeps_what_the_centre_crop_cuts_and_survives_saving(kind, tiny_timm, tmp_path):
    from transformers import BitImageProcessor, Dinov2Config, Dinov2ForImageClassification

    folder = tiny_timm
    if kind == "transformers":  # DINOv2's own recipe: shorter side 256, centre crop 224
        folder = tmp_path / "tiny-dino"
        Dinov2ForImageClassification(
            Dinov2Config(
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=64,
                patch_size=4,
                image_size=32,
                num_labels=3,
            )
        ).save_pretrained(folder)
        BitImageProcessor(
            size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224}, do_center_crop=True
        ).save_pretrained(folder)
    task = ImageClassificationTask()

    def edge_brightness(params: ImageParams, source=folder) -> tuple[int, float]:
        spec = from_processor(task.build(str(source), params).processor)
        pixels = transform(spec, training=False)(_framed_image())
        wide = transform(spec, training=False)(_framed_image(width=56))  # squashed, not cropped, when whole
        assert wide.shape[-2:] == pixels.shape[-2:]
        return spec.crop, pixels[:, 0].mean().item(), wide[:, :, 0].mean().item()  # top row / left column

    cropped = edge_brightness(ImageParams(image_size=28))
    whole = edge_brightness(ImageParams(image_size=28, whole_image=True))
    assert cropped[0] == whole[0] == 28
    assert whole[1] > cropped[1] + 1.0 and whole[2] > cropped[2] + 1.0  # the frame is in view only when whole
    built = task.build(str(folder), ImageParams(image_size=28, whole_image=True))
    model, processor = built.model, built.processor
    model.save_pretrained(tmp_path / "saved")
    processor.save_pretrained(tmp_path / "saved")
    assert edge_brightness(ImageParams(), tmp_path / "saved") == whole


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16"])
def test_any_image_mode_becomes_rgb(mode):
    image = Image.new(mode, (10, 10))
    assert to_rgb(image).mode == "RGB"


def test_transparent_pixels_become_white():
    assert to_rgb(Image.new("RGBA", (4, 4), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)
    assert transform(
        from_processor(ViTImageProcessor(size={"height": 16, "width": 16})),
        training=True,
        augmentation="trivialaugment",
    )(Image.new("L", (28, 28))).shape == (3, 16, 16)


def test_augmix_varies_training_images_and_leaves_evaluation_images_alone():
    # bicubic, as EfficientNet-Lite0's preprocessing is (AugMix's tensor rotations once refused it)
    spec = from_processor(ViTImageProcessor(size={"height": 32, "width": 32}, resample=Image.BICUBIC))
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    torch.manual_seed(0)
    mixed = [transform(spec, training=True, augmentation="none", augmix=True)(image) for _ in range(4)]
    plain = transform(spec, training=True, augmentation="none")(image)
    assert all(view.shape == plain.shape for view in mixed)
    assert sum(not torch.allclose(view, plain) for view in mixed) >= 3  # a chain of operations can be mild
    assert torch.equal(transform(spec, training=False, augmix=True)(image), transform(spec, training=False)(image))


def test_new_head_keeps_the_backbone_weights(tiny_vit, colour_folder):
    task = ImageClassificationTask()
    examples = task.load_examples(ImageParams(data=str(colour_folder)), "train")
    model = task.build(str(tiny_vit), ImageParams(), examples, training=True).model
    original = ViTForImageClassification.from_pretrained(tiny_vit)
    assert model.config.id2label == {0: "blue", 1: "red"} and model.classifier.out_features == 2
    for name, tensor in original.vit.state_dict().items():
        assert torch.equal(tensor, model.vit.state_dict()[name]), name


def test_feature_cache_hits_and_is_invalidated_by_weights_or_preprocessing(tiny_vit, colour_folder, tmp_path):
    task = ImageClassificationTask()
    messages = []
    run = tmp_path / "run"
    task.train(
        ImageParams(data=str(colour_folder), model=str(tiny_vit), probe_epochs=5), None, run, log=messages.append
    )
    assert sum("computed" in m for m in messages) == 2  # train and validation features
    messages.clear()
    task.train(
        ImageParams(data=str(colour_folder), model=str(tiny_vit), probe_epochs=5), None, run, log=messages.append
    )
    assert sum("cache hit" in m for m in messages) == 2
    messages.clear()
    task.train(
        ImageParams(data=str(colour_folder), model=str(tiny_vit), probe_epochs=5, image_size=16),
        None,
        run,
        log=messages.append,
    )
    assert sum("computed" in m for m in messages) == 2  # other preprocessing, other features
    model = ViTForImageClassification.from_pretrained(tiny_vit)
    with torch.no_grad():
        model.vit.embeddings.patch_embeddings.projection.weight.mul_(2)
    model.save_pretrained(tiny_vit)
    messages.clear()
    task.train(
        ImageParams(data=str(colour_folder), model=str(tiny_vit), probe_epochs=5), None, run, log=messages.append
    )
    assert sum("computed" in m for m in messages) == 2  # other weights, other features


@pytest.mark.parametrize(
    "mode, extra, backbones",
    [
        ("linear-probe", {"probe_epochs": 200}, ("tiny_vit", "tiny_timm")),
        # a random CNN's batch-norm statistics need far more than 24 steps to settle: ViT only for fine-tuning
        ("finetune", {"num_train_epochs": 8, "learning_rate": 3e-3}, ("tiny_vit",)),
        (
            "finetune",
            {"num_train_epochs": 8, "learning_rate": 1e-2, "peft": "lora", "head_warmup": False},
            ("tiny_vit",),
        ),
        (
            "finetune",
            {"num_train_epochs": 8, "learning_rate": 3e-3, "mixup_alpha": 0.2, "cutmix_alpha": 1.0},
            ("tiny_vit",),
        ),
    ],
)
def test_tiny_models_learn_the_colours(mode, extra, backbones, colour_folder, tmp_path, request):
    from evaluation.harness import evaluate

    for model in (request.getfixturevalue(name) for name in backbones):
        task = ImageClassificationTask()
        params = ImageParams(
            data=str(colour_folder),
            model=str(model),
            mode=mode,
            eval_strategy="no",
            per_device_train_batch_size=8,
            save_steps=1000,
            **extra,
        )
        result = task.train(params, None, tmp_path / f"{mode}-{model.name}")
        report = evaluate(task, str(result.model_dir), params, split="test", with_speed=False, log=lambda m: None)
        assert report.metrics["accuracy"] == 100.0, (model.name, report.metrics)


def test_corrupt_files_fail_before_training_with_their_paths_or_are_skipped(colour_folder):
    broken = colour_folder / "train" / "red" / "broken.png"
    broken.write_bytes(Image.new("RGB", (8, 8)).tobytes()[:10])
    truncated = colour_folder / "train" / "blue" / "truncated.png"
    full = (colour_folder / "train" / "blue" / "0.png").read_bytes()
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(OmnituneError) as error:
        data.load_examples(str(colour_folder), "train")
    assert "broken.png" in str(error.value) and "truncated.png" in str(error.value)
    assert "--bad_images skip" in str(error.value)
    assert len(data.load_examples(str(colour_folder), "train", bad_images="skip").rows) == 24


def test_csv_listing_with_relative_paths_and_named_labels(colour_folder, tmp_path):
    listing = colour_folder / "train.csv"
    rows = [f"train/{name}/{i}.png,{name}" for name in COLOURS for i in range(12)]
    listing.write_text("path,label\n" + "\n".join(rows) + "\n")
    examples = data.load_examples(str(listing), "train")
    assert examples.labels == ["blue", "red"] and 18 <= len(examples.rows) <= 24
    with pytest.raises(OmnituneError, match="column_mapping"):
        data.load_examples(str(listing), "train", column_mapping={"label": "klass"})


def _one_folder(colour_folder, per_class: int):
    """The train/ images of colour_folder as one folder of class sub-folders, `per_class` images each."""
    import shutil

    whole = colour_folder.parent / f"whole{per_class}"
    for name in COLOURS:
        (whole / name).mkdir(parents=True)
        for i in range(per_class):
            shutil.copy(colour_folder / "train" / name / f"{i}.png", whole / name / f"{i}.png")
    return whole


def _paths(examples):
    return {row["path"] for row in examples.rows["image"]}


def test_one_folder_holds_out_every_class_for_validation_and_test(colour_folder):
    whole = _one_folder(colour_folder, per_class=8)  # a real user's case: test once held one class only
    splits = {split: data.load_examples(str(whole), split) for split in ("train", "validation", "test")}
    for split in ("validation", "test"):
        assert sorted(splits[split].rows["label"]) == [0, 1]  # one image of each class
    assert sorted(splits["train"].rows["label"]) == [0] * 6 + [1] * 6
    train, validation, test = (_paths(splits[s]) for s in ("train", "validation", "test"))
    assert not (train & validation or train & test or validation & test)
    assert len(data.load_examples(str(whole), "all").rows) == 16  # evaluate scores all of a folder it was given


def test_too_few_images_per_class_names_the_class_and_the_minimum(colour_folder):
    whole = _one_folder(colour_folder, per_class=2)
    with pytest.raises(OmnituneError, match=r"class 'blue' \(2\), 'red' \(2\).*at least 3 per class"):
        data.load_examples(str(whole), "train")
    (colour_folder.parent / "empty").mkdir()
    with pytest.raises(OmnituneError, match="no images"):
        data.load_examples(str(colour_folder.parent / "empty"), "train")


def test_cli_trains_a_linear_probe_and_predicts_a_file(tiny_vit, colour_folder, capsys, tmp_path):
    from apps.cli import main

    assert (
        main(
            [
                "train",
                "image-classification",
                "--model",
                str(tiny_vit),
                "--data",
                str(colour_folder),
                "--probe_epochs",
                "20",
                "--output_dir",
                str(tmp_path / "run-ic"),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "run-ic" / "metrics.json").read_text())
    probe = metrics["training"]["linear_probe"]
    # a tiny model extracts features in milliseconds; the 10x-and-more figure is measured on DINOv2 (README)
    assert probe["epoch_speedup_with_cache"] > 1 and probe["feature_cache_hit"] is False
    assert metrics["test"]["metrics"]["accuracy"] >= 50
    assert Image.open(tmp_path / "run-ic" / "confusion_matrix_test.png").size[0] > 300
    capsys.readouterr()
    image = colour_folder / "test" / "red" / "0.png"
    assert main(["predict", "image-classification", "--model", str(tmp_path / "run-ic"), "--image", str(image)]) == 0
    printed = capsys.readouterr().out
    labels = json.loads(printed[printed.index("{\n") :])["labels"]
    assert set(labels) == {"red", "blue"} and abs(sum(labels.values()) - 1) < 1e-4


def test_predict_refuses_a_backbone_without_a_trained_classifier(tiny_vit, colour_folder, capsys, tmp_path):
    from transformers import ViTImageProcessor, ViTModel

    from apps.cli import main

    backbone = tmp_path / "backbone"  # like the shelf's dinov2-small: no head, so a random one would answer
    ViTModel.from_pretrained(tiny_vit).save_pretrained(backbone)
    ViTImageProcessor.from_pretrained(tiny_vit).save_pretrained(backbone)
    image = colour_folder / "test" / "red" / "0.png"
    assert main(["predict", "image-classification", "--model", str(backbone), "--image", str(image)]) == 2
    error = capsys.readouterr().err
    assert "no trained image-classification head" in error and "omnitune train image-classification" in error
    assert main(["predict", "image-classification", "--model", str(tiny_vit), "--image", str(image)]) == 0


@pytest.fixture
def image_demo(tiny_vit, serve):
    from apps.demos import build_demo

    return serve(build_demo("image-classification", str(tiny_vit)))


def test_demo_returns_top_labels_and_an_explanation(image_demo, tmp_path):
    from gradio_client import Client, handle_file

    photo = tmp_path / "photo.png"
    Image.new("RGBA", (50, 40), (200, 10, 10, 128)).save(photo)
    client = Client(image_demo.local_url, verbose=False)
    labels, explanation, details = client.predict(handle_file(str(photo)), 0.5, api_name="/classify")
    assert len(labels["confidences"]) == 3
    assert abs(sum(c["confidence"] for c in labels["confidences"]) - 1) < 1e-4
    assert details["explanation"] == "attention rollout" and details["image_size"] == [50, 40]
    assert Image.open(explanation).size == (50, 40)


@pytest.mark.parametrize("content, message", [(b"not an image at all", "not a readable image"), (None, "No image")])
def test_demo_explains_bad_files(image_demo, tmp_path, content, message):
    from gradio_client import Client, handle_file

    client = Client(image_demo.local_url, verbose=False)
    argument = None
    if content is not None:
        bad = tmp_path / "bad.png"
        bad.write_bytes(content)
        argument = handle_file(str(bad))
    with pytest.raises(Exception, match=message):
        client.predict(argument, 0.5, api_name="/classify")


def test_hybrid_cnn_transformer_saves_loads_and_learns(colour_folder, tmp_path):
    from transformers import AutoModelForImageClassification, BitImageProcessor

    from evaluation.harness import evaluate
    from tasks.image_classification.hybrid import CnnTransformerConfig, CnnTransformerForImageClassification

    torch.manual_seed(0)
    folder = tmp_path / "tiny-hybrid"
    config = CnnTransformerConfig(
        cnn_architecture="test_efficientnet",
        cnn_stage=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        max_grid=4,
    )
    CnnTransformerForImageClassification(config).save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": 36}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    reloaded = AutoModelForImageClassification.from_pretrained(folder)
    assert isinstance(reloaded, CnnTransformerForImageClassification)
    task = ImageClassificationTask()
    params = ImageParams(
        data=str(colour_folder),
        model=str(folder),
        mode="finetune",
        eval_strategy="no",
        num_train_epochs=10,
        learning_rate=3e-3,
        per_device_train_batch_size=8,
        save_steps=1000,
    )
    result = task.train(params, None, tmp_path / "hybrid-run")
    report = evaluate(task, str(result.model_dir), params, split="test", with_speed=False, log=lambda m: None)
    assert report.metrics["accuracy"] >= 75.0, report.metrics


def test_layer_decay_gives_lower_layers_smaller_learning_rates(tiny_vit):
    model = ViTForImageClassification.from_pretrained(tiny_vit)
    optimizer = ImageClassificationTask().optimizer(model, ImageParams(layer_decay=0.5, learning_rate=1.0))
    rates = [group["lr"] for group in optimizer.param_groups]
    assert rates == [0.125, 0.25, 0.5, 1.0]  # embeddings, block 1, block 2 (+ final norm), head
    head = optimizer.param_groups[-1]["params"]
    assert {id(p) for p in head} == {id(model.classifier.weight), id(model.classifier.bias)}
    assert ImageClassificationTask().optimizer(model, ImageParams()) is None


def test_evaluating_a_model_on_data_with_other_classes_is_refused(tiny_vit, colour_folder):
    from evaluation.harness import evaluate

    with pytest.raises(OmnituneError, match="predicts 3 classes .* but the data has 2"):
        evaluate(
            ImageClassificationTask(),
            str(tiny_vit),
            ImageParams(data=str(colour_folder)),
            split="test",
            with_speed=False,
            log=lambda m: None,
        )


def test_mixing_collator_mixes_training_batches_only_and_the_loss_takes_both_label_kinds():
    from tasks.image_classification.task import MIXABLE, MixingCollator

    collate = MixingCollator(classes=3, mixup_alpha=0.4, cutmix_alpha=0.0)
    items = [{"pixel_values": torch.full((3, 4, 4), float(i)), "labels": i} for i in range(3)]
    evaluation = collate([dict(item) for item in items])
    assert evaluation["labels"].tolist() == [0, 1, 2]
    training = collate([{**item, MIXABLE: True} for item in items])
    assert training["labels"].shape == (3, 3) and torch.allclose(training["labels"].sum(1), torch.ones(3))
    logits = torch.randn(3, 3)
    loss = ImageClassificationTask().loss_function()
    hard = loss({"logits": logits}, torch.tensor([0, 1, 2]))
    soft = loss({"logits": logits}, torch.eye(3), num_items_in_batch=9)
    assert torch.allclose(hard, torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])))
    assert torch.allclose(hard, soft)  # one-hot probabilities give the same loss; 9 entries are 3 examples


def test_fine_tuning_with_mixup_really_mixes_the_training_batches(tiny_vit, colour_folder, tmp_path, monkeypatch):
    """Trainer strips inputs the model does not take unless told not to; this caught mixing silently off."""
    from tasks.image_classification.task import MixingCollator

    seen = []
    original = MixingCollator.__call__

    def spy(self, items):
        batch = original(self, items)
        seen.append(batch["labels"].ndim)
        return batch

    monkeypatch.setattr(MixingCollator, "__call__", spy)
    params = ImageParams(
        data=str(colour_folder),
        model=str(tiny_vit),
        mode="finetune",
        num_train_epochs=1,
        cutmix_alpha=1.0,
        per_device_train_batch_size=8,
        head_warmup=False,
    )
    ImageClassificationTask().train(params, None, tmp_path / "run")
    assert 2 in seen and 1 in seen  # mixed training batches, untouched evaluation batches


def test_frozen_norm_statistics_stay_as_pretrained_while_the_rest_trains(tiny_timm, colour_folder, tmp_path):
    from transformers import AutoModelForImageClassification

    before = AutoModelForImageClassification.from_pretrained(tiny_timm).state_dict()
    params = ImageParams(
        data=str(colour_folder),
        model=str(tiny_timm),
        mode="finetune",
        num_train_epochs=1,
        learning_rate=1e-2,
        eval_strategy="no",
        per_device_train_batch_size=8,
        freeze_norm_statistics=True,
        head_warmup=False,
    )
    result = ImageClassificationTask().train(params, None, tmp_path / "run")
    after = AutoModelForImageClassification.from_pretrained(result.model_dir).state_dict()
    statistics = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert statistics and all(torch.equal(before[k], after[k]) for k in statistics)
    convolutions = [k for k in before if k.endswith("conv_stem.weight")]
    assert not torch.equal(before[convolutions[0]], after[convolutions[0]])  # the weights did train


def test_a_cnn_predicts_in_channels_last_with_the_same_answers_and_stays_savable(tiny_timm, colour_folder, tmp_path):
    """Channels-last is a speed-up only: the probabilities match the default layout's, and afterwards the weights
    are back in the default layout, so the model still saves (safetensors writes contiguous tensors)."""
    from tasks.image_classification.memory_format import is_convolutional

    task = ImageClassificationTask()
    params = ImageParams(data=str(colour_folder))
    built = task.build(str(tiny_timm), params)
    assert is_convolutional(built.model)
    examples = task.load_examples(params, "test")
    fast = np.array(task.predict(built, examples, params, batch_size=4))
    built.model.eval()
    preprocess = transform(from_processor(built.processor), training=False)
    with torch.inference_mode():
        pixels = torch.stack([preprocess(data.open_image(value)) for value in examples["image"]])
        plain = torch.softmax(built.model(pixel_values=pixels).logits, -1).numpy()
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    assert all(p.is_contiguous() for p in built.model.parameters())
    built.model.save_pretrained(tmp_path / "saved")
