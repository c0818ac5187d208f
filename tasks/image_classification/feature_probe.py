"""A richer linear probe for Vision Transformers: the classifier reads the [class token, mean patch token] of the
last N layers (DINOv2's own linear evaluation protocol uses 4), optionally the mean patch token of each region of
a coarse grid (where on the image a feature fires: a shirt's sleeves sit at its sides), optionally averaged over
the image and its mirror image (a flip-invariant feature; the same as averaging the head's logits over both).
The backbone stays frozen and the head stays one Linear layer, so the features are still computed once and cached.

What each part adds on the bundled Fashion-MNIST subset: README, "Image classification".

It is a transformers PreTrainedModel registered with the Auto classes (like the hybrid), so a probe run saves,
reloads, evaluates, compresses and demos like any other image classifier.
"""

from __future__ import annotations

import inspect

import torch
from transformers import AutoConfig, AutoModel, AutoModelForImageClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput


class FeatureProbeConfig(PretrainedConfig):
    model_type = "omnitune_feature_probe"
    sub_configs = {"backbone_config": AutoConfig}

    def __init__(
        self,
        backbone_config: PretrainedConfig | dict | None = None,
        probe_layers: int = 4,
        probe_regions: int = 2,
        probe_mirror: bool = False,
        **kwargs,
    ):
        if isinstance(backbone_config, dict):
            backbone_config = AutoConfig.for_model(**backbone_config)
        self.backbone_config = backbone_config
        self.probe_layers, self.probe_regions, self.probe_mirror = probe_layers, probe_regions, probe_mirror
        super().__init__(**kwargs)

    def feature_size(self) -> int:
        regions = self.probe_regions**2 if self.probe_regions > 1 else 0
        return self.backbone_config.hidden_size * (2 + regions) * self.probe_layers


class FeatureProbeForImageClassification(PreTrainedModel):
    config_class = FeatureProbeConfig
    main_input_name = "pixel_values"
    base_model_prefix = "backbone"
    _supports_sdpa = True
    _supports_flash_attn = True

    def __init__(self, config: FeatureProbeConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        if backbone is None:
            backbone = AutoModel.from_config(config.backbone_config)
            if getattr(backbone, "pooler", None) is not None:
                # a classifier's backbone (what `around` wraps) has no pooler, and the probe reads hidden states:
                # one built from config would load with random pooler weights, flagged as an untrained head
                backbone.pooler = None
        self.backbone = backbone
        config.backbone_config = self.backbone.config  # one object: what compression changes in it is saved
        self.classifier = torch.nn.Linear(config.feature_size(), config.num_labels)
        self._resizes_positions = "interpolate_pos_encoding" in inspect.signature(self.backbone.forward).parameters
        self.post_init()

    def _init_weights(self, module):
        """The head only: the backbone's weights come from its checkpoint."""
        if module is getattr(self, "classifier", None):
            torch.nn.init.normal_(module.weight, std=0.01)
            torch.nn.init.zeros_(module.bias)

    def set_attn_implementation(self, implementation):
        self.backbone.set_attn_implementation(implementation)
        self.config._attn_implementation = self.backbone.config._attn_implementation

    def probe_features(self, pixel_values: torch.Tensor, output_attentions: bool = False):
        config, backbone_config = self.config, self.config.backbone_config
        images = torch.cat([pixel_values, pixel_values.flip(-1)]) if config.probe_mirror else pixel_values
        resize = {"interpolate_pos_encoding": True} if self._resizes_positions else {}  # ViT: other input sizes
        outputs = self.backbone(
            pixel_values=images, output_hidden_states=True, output_attentions=output_attentions, **resize
        )
        first_patch = 1 + getattr(backbone_config, "num_register_tokens", 0)
        rows, columns = (side // backbone_config.patch_size for side in images.shape[-2:])
        parts = []
        for states in outputs.hidden_states[-config.probe_layers :]:
            tokens = self.backbone.layernorm(states)
            patches = tokens[:, first_patch:]
            parts += [tokens[:, 0], patches.mean(1)]
            if config.probe_regions > 1:
                grid = patches.transpose(1, 2).reshape(images.shape[0], -1, rows, columns)
                regions = torch.nn.functional.adaptive_avg_pool2d(grid, config.probe_regions)
                parts.append(regions.flatten(2).transpose(1, 2).flatten(1))
        features = torch.cat(parts, dim=-1)
        attentions = outputs.attentions
        if config.probe_mirror:
            # shape[0], not len(): len() is a plain int, which pins the batch size when the model is exported
            count = pixel_values.shape[0]
            features = (features[:count] + features[count:]) / 2
            attentions = attentions and tuple(layer[:count] for layer in attentions)
        return features, attentions

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ):
        features, attentions = self.probe_features(pixel_values, bool(output_attentions))
        logits = self.classifier(features)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits, attentions=attentions)

    @classmethod
    def around(cls, classifier: PreTrainedModel, layers: int, regions: int, mirror: bool):
        """A probe over the backbone of a loaded transformers image classifier (its labels kept, a new head)."""
        backbone = classifier.base_model
        embeddings = getattr(backbone, "embeddings", None)
        if (
            backbone is classifier or not hasattr(backbone, "layernorm") or not hasattr(embeddings, "cls_token")
        ):  # a Swin, say, has patches but no class token
            raise TypeError(f"{type(classifier).__name__} is not a Vision Transformer with a class token")
        config = FeatureProbeConfig(
            backbone_config=backbone.config,
            probe_layers=layers,
            probe_regions=regions,
            probe_mirror=mirror,
            id2label=classifier.config.id2label,
            label2id=classifier.config.label2id,
        )
        if getattr(classifier.config, "omnitune_attention", None):  # token reduction etc. reload with the probe
            config.omnitune_attention = classifier.config.omnitune_attention
        return cls(config, backbone=backbone)


AutoConfig.register(FeatureProbeConfig.model_type, FeatureProbeConfig)
AutoModelForImageClassification.register(FeatureProbeConfig, FeatureProbeForImageClassification)
