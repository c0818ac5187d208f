"""Rebuild the bundled image-classification sets (imagefolder layout: split/class/image.png):

- fashion-mnist: a balanced subset of Fashion-MNIST (Debian `dataset-fashion-mnist`): 200 training and 50
  validation images per class from its training file, 100 test images per class from its test file;
  28 x 28 grey PNGs.
- clipart: colour clip art from Debian `openclipart-svg`, one class per top-level folder for the ten largest
  clear folders, at most 150 drawings each, rendered to 64 x 64 PNG on white with `rsvg-convert` (Debian
  `librsvg2-bin`) and stored with a 256-colour palette (clip art has flat colours, so this is near lossless
  and three times smaller); split 80/10/10 by a hash of the drawing's path.

    python -m tasks.image_classification.build_dataset [--out tasks/image_classification/data]
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from shared.dataset_builders import builder_main, split_of, unpack

PACKAGES = {"dataset-fashion-mnist": "0.0~git20200523.55506a9-1", "openclipart-svg": "1:0.18+dfsg-19"}
FASHION = "usr/share/datasets/fashion-mnist"
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_PER_CLASS = {"train": 200, "validation": 50, "test": 100}
CLIPART = "usr/share/openclipart/svg"
CLIPART_CLASSES = (
    "animals",
    "computer",
    "food",
    "office",
    "people",
    "recreation",
    "shapes",
    "signs_and_symbols",
    "tools",
    "transportation",
)  # "special" and "unsorted" are not classes
CLIPART_PER_CLASS = 150
CLIPART_SIZE = 64
SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian dimension sizes after a 4-byte magic number."""
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def class_folder(label: str) -> str:
    return label.replace("/", "-").replace(" ", "_").lower()


def build_fashion(root: Path, out: Path) -> dict[str, int]:
    rng = np.random.default_rng(0)
    sources = {"train": "train", "validation": "train", "test": "t10k"}
    counts = {}
    taken: dict[int, set] = {}
    for split, per_class in FASHION_PER_CLASS.items():
        images = read_idx(root / FASHION / f"{sources[split]}-images-idx3-ubyte.gz")
        labels = read_idx(root / FASHION / f"{sources[split]}-labels-idx1-ubyte.gz")
        counts[split] = 0
        for label, name in enumerate(FASHION_CLASSES):
            pool = [
                i
                for i in np.flatnonzero(labels == label)
                if i not in taken.get(label, set()) or sources[split] == "t10k"
            ]
            chosen = sorted(rng.choice(pool, per_class, replace=False).tolist())
            if sources[split] == "train":
                taken.setdefault(label, set()).update(chosen)
            folder = out / split / class_folder(name)
            folder.mkdir(parents=True, exist_ok=True)
            for index in chosen:
                Image.fromarray(images[index], mode="L").save(
                    folder / f"{sources[split]}-{index:05d}.png", optimize=True
                )
            counts[split] += len(chosen)
    return counts


def render_svg(svg: Path, png: Path) -> bool:
    result = subprocess.run(
        [
            "rsvg-convert",
            "-w",
            str(CLIPART_SIZE),
            "-h",
            str(CLIPART_SIZE),
            "-a",
            "-b",
            "white",
            "-o",
            str(png),
            str(svg),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0 or not png.is_file():
        return False
    image = Image.open(png).convert("RGB")
    if np.asarray(image).std() < 2:  # blank drawing
        png.unlink()
        return False
    canvas = Image.new("RGB", (CLIPART_SIZE, CLIPART_SIZE), "white")  # "-a" keeps the aspect: pad to a square
    canvas.paste(image, ((CLIPART_SIZE - image.width) // 2, (CLIPART_SIZE - image.height) // 2))
    canvas.quantize(256).save(png, optimize=True)
    return True


def build_clipart(root: Path, out: Path) -> dict[str, int]:
    if shutil.which("rsvg-convert") is None:
        raise SystemExit("rsvg-convert is needed: apt-get install librsvg2-bin")
    counts = dict.fromkeys(SPLIT_SHARES, 0)
    for label in CLIPART_CLASSES:
        # hash order, so the 150 kept are spread over the folder's sub-folders rather than the first ones
        drawings = sorted(
            (root / CLIPART / label).rglob("*.svg"),
            key=lambda p: hashlib.sha256(str(p.relative_to(root)).encode()).hexdigest(),
        )
        kept = 0
        for svg in drawings:
            if kept == CLIPART_PER_CLASS:
                break
            relative = str(svg.relative_to(root / CLIPART))
            split = split_of(relative, SPLIT_SHARES)
            folder = out / split / label
            folder.mkdir(parents=True, exist_ok=True)
            name = relative.removesuffix(".svg").replace("/", "__")[len(label) + 2 :] + ".png"
            if render_svg(svg, folder / name):
                kept += 1
                counts[split] += 1
    return counts


def build(out: Path) -> dict[str, dict[str, int]]:
    root = unpack(PACKAGES)
    return {
        "fashion-mnist": build_fashion(root, out / "fashion-mnist"),
        "clipart": build_clipart(root, out / "clipart"),
    }


if __name__ == "__main__":
    builder_main(build, __doc__, Path(__file__).parent / "data")
