"""omnitune's Python API: `import omnitune`, then train, evaluate, predict, compress and export with the same
defaults and checks as the `omnitune` command (see apps/api.py, and examples/ for a runnable script)."""

from apps.api import Evaluation, Interrupted, compress, evaluate, export, predict, train
from apps.compression import Plan
from apps.export import ExportPlan
from apps.pipeline import Outcome
from tasks.registry import TASKS

__all__ = [
    "TASKS",
    "Evaluation",
    "ExportPlan",
    "Interrupted",
    "Outcome",
    "Plan",
    "compress",
    "evaluate",
    "export",
    "predict",
    "train",
]
