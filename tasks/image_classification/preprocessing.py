"""Image preprocessing taken from each backbone's own pretrained config (size, interpolation, crop share,
mean/std), never hard-coded: transformers image processors (size/crop_size/image_mean/...) and timm's
(data_config) are both read. Augmentation for training comes from torchvision.

Any image mode is accepted: grey, palette, CMYK and the like are converted to RGB; transparency is composed
over white (clip art and logos are drawn on white, not black).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from PIL import Image
from torchvision.transforms import v2

_INTERPOLATION = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
# none / flip keep the whole (centre-cropped) image; the others start from a random resized crop (ImageNet style)
AUGMENTATIONS = ("none", "flip", "crop-flip", "trivialaugment", "randaugment")


@dataclass(frozen=True)
class Preprocessing:
    crop: int  # side of the square the model sees
    resize: int  # shorter side before the centre crop (eval)
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    center_crop: bool = True  # False: the whole image is resized to crop x crop

    def at_size(self, size: int | None) -> Preprocessing:
        """The same recipe at another input size (the crop share is kept)."""
        if not size or size == self.crop:
            return self
        return replace(self, crop=size, resize=round(size * self.resize / self.crop))

    def whole_image(self) -> Preprocessing:
        """No centre crop: the recipe for small images whose subject fills the frame (a photo's crop share of
        0.875 cuts a 28 px garment's sleeves off)."""
        return replace(self, resize=self.crop, center_crop=False)

    def key(self) -> str:
        return f"{self.crop}/{self.resize}/{self.interpolation}/{self.mean}/{self.std}/{self.center_crop}"


def from_processor(processor: Any) -> Preprocessing:
    config = getattr(processor, "data_config", None)
    if config:  # timm (transformers' TimmWrapperImageProcessor)
        crop, crop_share = int(config["input_size"][-1]), config.get("crop_pct", 1.0)
        return Preprocessing(
            crop=crop,
            resize=round(crop / crop_share),
            interpolation=config.get("interpolation", "bilinear"),
            mean=tuple(config["mean"]),
            std=tuple(config["std"]),
            center_crop=config.get("crop_mode", "center") != "squash",
        )  # timm's own reading
    center_crop = bool(getattr(processor, "do_center_crop", False))
    size = _as_dict(processor.size)
    crop_size = _as_dict(getattr(processor, "crop_size", None)) if center_crop else {}
    crop = crop_size.get("height") or size.get("height") or size.get("shortest_edge")
    resize = size.get("shortest_edge") or size.get("height") or crop
    return Preprocessing(
        crop=int(crop),
        resize=int(resize if center_crop else crop),
        interpolation=_INTERPOLATION.get(int(getattr(processor, "resample", 2) or 2), "bilinear"),
        mean=tuple(processor.image_mean),
        std=tuple(processor.image_std),
        center_crop=center_crop,
    )


def _as_dict(size: Any) -> dict:
    if size is None:
        return {}
    if isinstance(size, int):
        return {"height": size, "width": size}
    return {k: v for k, v in dict(size if isinstance(size, dict) else vars(size)).items() if v is not None}


def update_processor(processor: Any, spec: Preprocessing) -> None:
    """Make a saved processor describe what the model was trained with (an --image_size override)."""
    config = getattr(processor, "data_config", None)
    if config:
        config.update(
            input_size=(3, spec.crop, spec.crop),
            crop_pct=spec.crop / spec.resize,
            crop_mode="center" if spec.center_crop else "squash",
        )
        return
    processor.do_center_crop = spec.center_crop
    processor.crop_size = {"height": spec.crop, "width": spec.crop}
    processor.size = {"shortest_edge": spec.resize} if spec.center_crop else {"height": spec.crop, "width": spec.crop}


def to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, I;16, YCbCr ...


def transform(spec: Preprocessing, training: bool, augmentation: str = "flip", augmix: bool = False):
    interpolation = getattr(v2.InterpolationMode, spec.interpolation.upper(), v2.InterpolationMode.BILINEAR)
    resized = (
        [v2.Resize(spec.resize, interpolation=interpolation, antialias=True), v2.CenterCrop(spec.crop)]
        if spec.center_crop
        else [v2.Resize((spec.crop, spec.crop), interpolation=interpolation, antialias=True)]
    )
    if not training or augmentation == "none":
        steps = resized
    elif augmentation == "flip":
        steps = [*resized, v2.RandomHorizontalFlip()]
    else:
        steps = [
            v2.RandomResizedCrop(spec.crop, scale=(0.35, 1.0), interpolation=interpolation, antialias=True),
            v2.RandomHorizontalFlip(),
        ]
        if augmentation == "trivialaugment":
            steps.append(v2.TrivialAugmentWide(interpolation=interpolation))
        elif augmentation == "randaugment":
            steps.append(v2.RandAugment(interpolation=interpolation))
    if training and augmix:
        # AugMix (Hendrycks et al. 2020) without its colour, contrast, brightness and sharpness operations
        # (all_ops=False), as the paper does: those overlap the corruptions the robustness is measured on.
        # Bilinear: AugMix works on tensors internally, whose rotations and shears refuse bicubic (Lite0's)
        steps.append(v2.AugMix(interpolation=v2.InterpolationMode.BILINEAR, all_ops=False))
    steps += [v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(spec.mean, spec.std)]
    pipeline = v2.Compose(steps)
    return lambda image: pipeline(to_rgb(image))
