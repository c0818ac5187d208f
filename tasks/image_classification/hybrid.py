"""A hybrid CNN + Transformer classifier built from offline pretrained parts: the EfficientNet-Lite0 feature map
at stride 16 (convolutions: local texture and shape) is cut into tokens, projected to the Transformer width, and
a small Transformer encoder relates them across the whole image (self-attention: long-range layout) before a
class-token classifier. The convolutional part is pretrained (ImageNet-1k); the projection, position
embeddings and encoder start from scratch, so the hybrid is meant for fine-tuning.

It is a transformers PreTrainedModel registered with the Auto classes, so omnitune trains, saves, loads,
evaluates and demos it like any other image classifier.
"""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForImageClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput


class CnnTransformerConfig(PretrainedConfig):
    model_type = "omnitune_cnn_transformer"

    def __init__(
        self,
        cnn_architecture: str = "tf_efficientnet_lite0",
        cnn_stage: int = 3,
        hidden_size: int = 192,
        num_hidden_layers: int = 2,
        num_attention_heads: int = 4,
        intermediate_size: int = 384,
        max_grid: int = 14,
        classifier_dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cnn_architecture, self.cnn_stage = cnn_architecture, cnn_stage
        self.hidden_size, self.num_hidden_layers = hidden_size, num_hidden_layers
        self.num_attention_heads, self.intermediate_size = num_attention_heads, intermediate_size
        self.max_grid, self.classifier_dropout = max_grid, classifier_dropout


class CnnTransformerForImageClassification(PreTrainedModel):
    config_class = CnnTransformerConfig
    main_input_name = "pixel_values"

    def __init__(self, config: CnnTransformerConfig):
        super().__init__(config)
        import timm

        self.cnn = timm.create_model(
            config.cnn_architecture, pretrained=False, features_only=True, out_indices=(config.cnn_stage,)
        )
        channels = self.cnn.feature_info.channels()[-1]
        self.projection = torch.nn.Conv2d(channels, config.hidden_size, kernel_size=1)
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.position_embeddings = torch.nn.Parameter(
            torch.zeros(1, config.hidden_size, config.max_grid, config.max_grid)
        )
        layer = torch.nn.TransformerEncoderLayer(
            config.hidden_size,
            config.num_attention_heads,
            config.intermediate_size,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = torch.nn.TransformerEncoder(layer, config.num_hidden_layers, enable_nested_tensor=False)
        self.layernorm = torch.nn.LayerNorm(config.hidden_size)
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        """New parts only: the CNN's weights come from the pretrained checkpoint."""
        if isinstance(module, CnnTransformerForImageClassification):
            torch.nn.init.trunc_normal_(module.position_embeddings, std=0.02)
            torch.nn.init.trunc_normal_(module.cls_token, std=0.02)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs):
        features = self.projection(self.cnn(pixel_values)[-1])
        height, width = features.shape[-2:]
        positions = (
            torch.nn.functional.interpolate(
                self.position_embeddings, size=(height, width), mode="bicubic", align_corners=False
            )
            if (height, width) != self.position_embeddings.shape[-2:]
            else self.position_embeddings
        )
        tokens = (features + positions).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        logits = self.classifier(self.layernorm(self.encoder(tokens))[:, 0])
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(CnnTransformerConfig.model_type, CnnTransformerConfig)
AutoModelForImageClassification.register(CnnTransformerConfig, CnnTransformerForImageClassification)


def build_from_efficientnet(efficientnet_folder, destination, seed: int = 0) -> None:
    """The hybrid with Lite0's pretrained convolutional stages (from the shelf's timm folder) and its
    preprocessing; the rest is initialised with a fixed seed, so the same folder always comes out."""
    import json

    import timm
    from transformers import BitImageProcessor

    torch.manual_seed(seed)
    model = CnnTransformerForImageClassification(CnnTransformerConfig())
    pretrained = timm.create_model(
        f"local-dir:{efficientnet_folder}", pretrained=True, features_only=True, out_indices=(model.config.cnn_stage,)
    )
    model.cnn.load_state_dict(pretrained.state_dict(), strict=True)
    model.save_pretrained(destination)
    cfg = json.loads((efficientnet_folder / "config.json").read_text())["pretrained_cfg"]
    crop = cfg["input_size"][-1]
    BitImageProcessor(
        do_resize=True,
        size={"shortest_edge": round(crop / cfg["crop_pct"])},
        resample=3,
        do_center_crop=True,
        crop_size={"height": crop, "width": crop},
        image_mean=list(cfg["mean"]),
        image_std=list(cfg["std"]),
        do_convert_rgb=True,
    ).save_pretrained(destination)
