"""Local `evaluate` modules, loaded by path so that they work offline: `load_metric("squad_v2")`."""

from pathlib import Path

import evaluate

HERE = Path(__file__).parent


def load_metric(name: str) -> evaluate.EvaluationModule:
    module = HERE / name / f"{name}.py"
    if not module.is_file():
        available = sorted(p.name for p in HERE.iterdir() if (p / f"{p.name}.py").is_file())
        raise FileNotFoundError(f"no local metric '{name}' (available: {', '.join(available)})")
    return evaluate.load(str(module))


# error rates and distances: smaller is better (everything else omnitune ranks by is a score)
LOWER_IS_BETTER = frozenset({"wer", "cer", "mel_cepstral_distortion", "loss", "eval_loss"})


def higher_is_better(metric: str) -> bool:
    return metric.removeprefix("eval_") not in LOWER_IS_BETTER
