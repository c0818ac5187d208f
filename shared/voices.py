"""The shelf's ONNX voices (inference only) behind one small interface: `load_voice(name).synthesise(text)`
returns float32 audio at the voice's own rate (`voice.sample_rate`).

- hibari: the wheel's own Python package (grapheme-to-phoneme rules, lexicons, ONNX model, DSP vocoder) is
  kept in the shelf folder and imported from there, since its phonemiser is part of the voice.
- piper-joe: a Piper VITS model; its phonemes come from espeak-ng (the Debian/Homebrew `espeak-ng` program,
  called as a separate process so that its GPL code stays outside omnitune), mapped to ids by the voice's
  own `phoneme_id_map`, one sentence at a time as Piper does.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from shared.errors import OmnituneError

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


class HibariVoice:
    def __init__(self, folder: Path):
        package = folder / "hibari"
        if "hibari" not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                "hibari", package / "__init__.py", submodule_search_locations=[str(package)]
            )
            module = importlib.util.module_from_spec(spec)
            sys.modules["hibari"] = module
            spec.loader.exec_module(module)
        self._tts = sys.modules["hibari"].Hibari(voice="heart")  # the one voice inside the wheel
        self.sample_rate = int(self._tts.sample_rate)

    def synthesise(self, text: str) -> np.ndarray:
        # hibari's vocoder adds noise: a fixed seed makes the same text give the same audio
        chunks = [self._tts.from_phonemes(p, seed=0) for p in self._tts.phonemize(text)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


class PiperVoice:
    PAD, BOS, EOS = "_", "^", "$"

    def __init__(self, folder: Path):
        import onnxruntime

        self.config = json.loads(next(folder.glob("*.onnx.json")).read_text())
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self._ids = self.config["phoneme_id_map"]
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(next(folder.glob("*.onnx"))), options, providers=["CPUExecutionProvider"]
        )

    def phonemes(self, sentence: str) -> str:
        espeak = shutil.which("espeak-ng")
        if espeak is None:
            raise OmnituneError(
                "the piper-joe voice needs the espeak-ng program for its phonemes, and it is not installed",
                "install it (Debian/Ubuntu: apt-get install espeak-ng; macOS: brew "
                "install espeak-ng), or use the hibari voice",
            )
        voice = self.config["espeak"]["voice"]
        # the text goes in on stdin, never as an argument: a sentence such as "-f /etc/passwd" would be read as
        # an option (read that file aloud), whatever quoting or "--" the command line had
        result = subprocess.run(
            [espeak, "-q", "--ipa", "-v", voice, "--stdin"], input=sentence, capture_output=True, text=True, check=True
        )
        # espeak-ng prints one line per clause and drops punctuation: put the pauses back
        clauses = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        ending = sentence.rstrip()[-1:] if sentence.rstrip()[-1:] in ".!?" else "."
        return ", ".join(clauses) + ending

    def ids(self, phonemes: str) -> list[int]:
        ids = [*self._ids[self.BOS], *self._ids[self.PAD]]
        for phoneme in phonemes:
            if phoneme in self._ids:  # characters outside the voice's alphabet are skipped, as Piper does
                ids += [*self._ids[phoneme], *self._ids[self.PAD]]
        return ids + self._ids[self.EOS]

    def synthesise(self, text: str) -> np.ndarray:
        inference = self.config["inference"]
        scales = np.array([inference["noise_scale"], inference["length_scale"], inference["noise_w"]], np.float32)
        chunks = []
        for sentence in split_sentences(text):
            ids = np.array([self.ids(self.phonemes(sentence))], dtype=np.int64)
            audio = self._session.run(
                None, {"input": ids, "input_lengths": np.array([ids.shape[1]], np.int64), "scales": scales}
            )[0]
            chunks.append(audio.reshape(-1))
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


BACKENDS = {"hibari": HibariVoice, "piper": PiperVoice}


def load_voice(name: str):
    from shared import shelf

    backend = shelf.entry(name).extra.get("voice_backend")
    if backend is None:
        raise OmnituneError(
            f"'{name}' is not a voice",
            "choose one of: " + ", ".join(n for n, e in shelf.SHELF.items() if e.extra.get("voice_backend")),
        )
    return BACKENDS[backend](shelf.prepare(name))
