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

