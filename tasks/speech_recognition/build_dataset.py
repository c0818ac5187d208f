"""Rebuild the bundled speech set (recognition and synthesis) from the Asterisk English prompts.

One professional US English speaker (Allison Smith) reads 568 telephone prompts; the transcripts come from the
package's core-sounds-en.txt.gz. Clips are resampled from 8 kHz to 16 kHz (librosa, soxr) and stored as 16-bit
FLAC in the `audiofolder` layout: one folder per split with a metadata.jsonl of `file_name`, `text`, `seconds`,
`group`, `speaker`.

Many prompts are near-duplicates ("Please enter your password followed by the pound key." and "... your
mailbox number followed by the pound key."): prompts whose normalised transcripts are similar are grouped,
and whole groups go to one split, so a test sentence's twin is never in training.

    python -m tasks.speech_recognition.build_dataset [--out tasks/speech_recognition/data]
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
import re
from pathlib import Path

import librosa
import numpy as np
import soundfile

from shared.dataset_builders import builder_main, unpack

PACKAGES = {"asterisk-core-sounds-en-wav": "1.6.1-1", "asterisk-core-sounds-en": "1.6.1-1"}
SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
SPEAKER = "en_US_f_Allison"  # the one voice of the whole set, named as the package names it
TRANSCRIPTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
SAMPLE_RATE = 16_000
SPLIT_SHARES = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
NEAR_DUPLICATE = 0.75  # difflib ratio between normalised transcripts
_LINE = re.compile(r"^([\w/-]+): (.+)$")


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def read_transcripts(path: Path) -> dict[str, str]:
    prompts = {}
    for line in gzip.decompress(path.read_bytes()).decode("utf-8", "replace").splitlines():
        if (match := _LINE.match(line.strip())) and not match.group(2).startswith("["):  # "[beep]": no speech
            prompts[match.group(1)] = " ".join(match.group(2).split())
    return prompts


def near_duplicate_groups(texts: dict[str, str]) -> dict[str, str]:
    """Clip name -> group name (the group's first clip), joining clips whose transcripts are near-duplicates."""
    parent = {name: name for name in texts}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    names = sorted(texts)
    normalised = {n: normalise(texts[n]) for n in names}
    for i, a in enumerate(names):
        matcher = difflib.SequenceMatcher(a=normalised[a], autojunk=False)
        for b in names[i + 1 :]:
            matcher.set_seq2(normalised[b])
            if matcher.real_quick_ratio() >= NEAR_DUPLICATE and matcher.ratio() >= NEAR_DUPLICATE:
                parent[root(b)] = root(a)
    return {name: root(name) for name in names}


def assign_splits(groups: dict[str, str]) -> dict[str, str]:
    """Group -> split: groups in hash order fill the splits to their shares of clips (deterministic)."""
    sizes: dict[str, int] = {}
    for group in groups.values():
        sizes[group] = sizes.get(group, 0) + 1
    order = sorted(sizes, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    total, filled, split_of = sum(sizes.values()), 0, {}
    boundaries, index = np.cumsum([share for _, share in SPLIT_SHARES]) * total, 0
    for group in order:
        while index < len(SPLIT_SHARES) - 1 and filled >= boundaries[index]:
            index += 1
        split_of[group] = SPLIT_SHARES[index][0]
        filled += sizes[group]
    return split_of


def build(out: Path) -> dict[str, int]:
    root = unpack(PACKAGES)
    texts = read_transcripts(root / TRANSCRIPTS)
    texts = {name: text for name, text in texts.items() if (root / SOUNDS / f"{name}.wav").is_file()}
    groups = near_duplicate_groups(texts)
    split_of_group = assign_splits(groups)
    rows: dict[str, list[dict]] = {split: [] for split, _ in SPLIT_SHARES}
    for name, text in sorted(texts.items()):
        split = split_of_group[groups[name]]
        audio, rate = soundfile.read(root / SOUNDS / f"{name}.wav", dtype="float32")
        audio = librosa.resample(audio, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
        file_name = f"{name.replace('/', '-')}.flac"
        (out / split).mkdir(parents=True, exist_ok=True)
        soundfile.write(
            out / split / file_name, np.clip(audio, -1, 1), SAMPLE_RATE, subtype="PCM_16", compression_level=1.0
        )  # smallest FLAC: the audio ships in the repo
        rows[split].append(
            {
                "file_name": file_name,
                "text": text,
                "seconds": round(len(audio) / SAMPLE_RATE, 2),
                "group": groups[name],
                "speaker": SPEAKER,
            }
        )
    for split, split_rows in rows.items():
        with open(out / split / "metadata.jsonl", "w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in split_rows)
    return {split: len(split_rows) for split, split_rows in rows.items()}


if __name__ == "__main__":
    builder_main(build, __doc__, Path(__file__).parent / "data")
