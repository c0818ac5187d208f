"""The richer ViT linear probe (last N layers, grid regions, mirror image) on tiny random models: what it reads,
that it saves and reloads as an ordinary image classifier, and that the task trains, caches and evaluates it."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForImageClassification, Dinov2Config, Dinov2ForImageClassification

from tasks.image_classification import linear_probe
from tasks.image_classification.explain import explanation_map
from tasks.image_classification.feature_probe import FeatureProbeForImageClassification
from tasks.image_classification.task import ImageClassificationTask, ImageParams


@pytest.fixture
def tiny_dino():
    torch.manual_seed(0)
    return Dinov2ForImageClassification(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=64,
            patch_size=4,
            image_size=16,
            num_labels=3,
        )
    ).eval()


def _head_input(model, pixel_values):
    """What a model's Linear classifier receives (the linear probe's features)."""
    return linear_probe.extract(model, lambda: [pixel_values])


def test_one_layer_without_extras_reads_exactly_what_the_models_own_head_reads(tiny_dino):
    pixels = torch.randn(2, 3, 16, 16)
    probe = FeatureProbeForImageClassification.around(tiny_dino, layers=1, regions=1, mirror=False).eval()
    assert torch.allclose(_head_input(probe, pixels), _head_input(tiny_dino, pixels), atol=1e-6)


def test_layers_regions_and_mirror_shape_the_features(tiny_dino):
    pixels = torch.randn(2, 3, 16, 16)
    probe = FeatureProbeForImageClassification.around(tiny_dino, layers=2, regions=2, mirror=True).eval()
    features = _head_input(probe, pixels)
    assert features.shape == (2, 32 * (2 + 4) * 2) == (2, probe.config.feature_size())
    # the last layer's [class, mean patch] block, averaged over the image and its mirror, is the head's input
    last = features[:, 32 * 6 : 32 * 8]
    plain = (_head_input(tiny_dino, pixels) + _head_input(tiny_dino, pixels.flip(-1))) / 2
    assert torch.allclose(last, plain, atol=1e-5)
    assert torch.allclose(_head_input(probe, pixels.flip(-1)), features, atol=1e-5)  # flip-invariant
    one_sided = FeatureProbeForImageClassification.around(tiny_dino, layers=2, regions=2, mirror=False).eval()
    assert not torch.allclose(_head_input(one_sided, pixels.flip(-1)), _head_input(one_sided, pixels), atol=1e-3)


def test_a_probe_saves_reloads_and_explains_like_any_image_classifier(tiny_dino, tmp_path):
    pixels = torch.randn(1, 3, 16, 16)
    probe = FeatureProbeForImageClassification.around(tiny_dino, layers=2, regions=2, mirror=True).eval()
    probe.save_pretrained(tmp_path / "probe")
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path / "probe").eval()
    assert isinstance(reloaded, FeatureProbeForImageClassification)
    with torch.no_grad():
        assert torch.allclose(reloaded(pixel_values=pixels).logits, probe(pixel_values=pixels).logits, atol=1e-6)
    heat, method = explanation_map(reloaded, pixels, target=0)
    assert method == "attention rollout" and heat.shape == (4, 4)
    assert reloaded.config._attn_implementation == "sdpa"  # restored after drawing


def test_the_task_trains_caches_and_evaluates_a_probe(tiny_vit, colour_folder, tmp_path):
    from evaluation.harness import evaluate

    task = ImageClassificationTask()
    messages = []
    params = ImageParams(
        data=str(colour_folder),
        model=str(tiny_vit),
        probe_epochs=30,
        probe_layers=2,
        probe_regions=2,
        probe_mirror=True,
    )
    result = task.train(params, None, tmp_path / "run", log=messages.append)
    assert any("probe features: last 2 layers, 2 x 2 regions" in m for m in messages)
    assert sum("computed" in m for m in messages) == 2
    reloaded = AutoModelForImageClassification.from_pretrained(result.model_dir)
    assert isinstance(reloaded, FeatureProbeForImageClassification)
    report = evaluate(
        task,
        str(result.model_dir),
        ImageParams(data=str(colour_folder)),
        split="test",
        with_speed=False,
        log=lambda m: None,
    )
    assert report.metrics["accuracy"] == 100.0, report.metrics  # red vs blue squares
    messages.clear()
    task.train(params.model_copy(update={"probe_mirror": False}), None, tmp_path / "run2", log=messages.append)
    assert sum("computed" in m for m in messages) == 2  # other features, not the cached ones
    messages.clear()
    task.train(params, None, tmp_path / "run3", log=messages.append)
    assert sum("cache hit" in m for m in messages) == 2


def test_a_cnn_asked_for_probe_features_uses_its_own_heads(colour_folder, tmp_path):
    import timm
    from transformers import TimmWrapperConfig, TimmWrapperForImageClassification

    torch.manual_seed(0)
    folder = tmp_path / "cnn"
    TimmWrapperForImageClassification(
        TimmWrapperConfig(
            architecture="test_efficientnet",
            num_labels=2,
            pretrained_cfg=dict(timm.create_model("test_efficientnet").pretrained_cfg),
        )
    ).save_pretrained(folder)
    messages = []
    result = ImageClassificationTask().train(
        ImageParams(data=str(colour_folder), model=str(folder), probe_epochs=5, probe_layers=4, probe_mirror=True),
        None,
        tmp_path / "run",
        log=messages.append,
    )
    assert any("not a Vision Transformer" in m for m in messages)
    assert isinstance(
        AutoModelForImageClassification.from_pretrained(result.model_dir), TimmWrapperForImageClassification
    )


def test_structured_pruning_of_a_probe_states_the_backbones_new_shape_and_reloads(tiny_dino, tmp_path):
    from shared.compression.heads import head_importance, prune_heads
    from shared.compression.structured import prune_feed_forward

    probe = FeatureProbeForImageClassification.around(tiny_dino, layers=2, regions=2, mirror=True).eval()
    batches = [{"pixel_values": torch.rand(4, 3, 16, 16), "labels": torch.tensor([0, 1, 2, 0])}]
    prune_heads(probe, 0.5, head_importance(probe, batches))
    prune_feed_forward(probe, 0.25)
    probe.save_pretrained(tmp_path / "pruned")
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path / "pruned").eval()
    backbone = reloaded.config.backbone_config
    assert (backbone.num_attention_heads, backbone.head_dim) == (1, 16)
    assert reloaded.backbone.encoder.layer[0].mlp.fc1.out_features == 96  # 128 -> a whole multiple of 32
    pixels = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(pixel_values=pixels).logits, probe(pixel_values=pixels).logits)


def test_a_transformer_without_a_class_token_is_not_probed_as_if_it_had_one():
    from transformers import SwinConfig, SwinForImageClassification

    swin = SwinForImageClassification(
        SwinConfig(
            image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4, num_labels=2
        )
    )
    with pytest.raises(TypeError, match="class token"):
        FeatureProbeForImageClassification.around(swin, layers=2, regions=2, mirror=False)


def _features(values, labels):
    from tasks.image_classification.linear_probe import CachedFeatures

    return CachedFeatures(torch.as_tensor(values, dtype=torch.float32), torch.tensor(labels), 0.0, False)


def test_a_dimension_dead_on_every_training_image_gets_no_weight():
    from tasks.image_classification.linear_probe import train_head

    generator = torch.Generator().manual_seed(0)
    labels = [0, 1] * 8
    signal = torch.tensor(labels, dtype=torch.float32)[:, None] * 2 - 1 + 0.3 * torch.randn(16, 4, generator=generator)
    train = _features(torch.cat([signal, torch.zeros(16, 1)], 1), labels)  # the last unit never fires in training
    result = train_head(train, None, 2, epochs=30, learning_rate=0.05, weight_decay=0.0, batch_size=8, seed=0)
    assert result.weight.abs().max() < 100  # ~1e4 when the dead unit's spread was clamped to 1e-6
    test = torch.tensor([[1.0, 1.0, 1.0, 1.0, 5.0], [-1.0, -1.0, -1.0, -1.0, 5.0]])  # the unit fires on test images
    assert ((test @ result.weight.T + result.bias).argmax(-1) == torch.tensor([1, 0])).all()


def test_equal_validation_accuracy_is_decided_by_validation_loss():
    from tasks.image_classification.linear_probe import train_head

    labels = [0, 1] * 8
    points = [[-1.0 if y == 0 else 1.0, 0.1 * i] for i, y in enumerate(labels)]
    train, validation = _features(points, labels), _features(points[:4], labels[:4])
    result = train_head(train, validation, 2, epochs=20, learning_rate=0.1, weight_decay=0.0, batch_size=4, seed=0)
    assert result.validation_accuracy == 1.0
    assert result.best_epoch > 1  # perfect from epoch 1, but the loss keeps falling
