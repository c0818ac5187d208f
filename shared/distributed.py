"""One run on N processes: who this process is, and the few collectives the shared pipeline needs.

Processes are started by the ecosystem's launchers (`torchrun`, `accelerate launch`), never by omnitune, and the
process group is accelerate's (`PartialState`), the same one Trainer uses, so training, sharded evaluation and
the main-process-only writes agree on ranks. Every function here is a no-op or the identity in one process.

The rule the pipeline follows: every rank computes, the main process writes (run folder, metrics.json, model
card, leaderboard row, feature cache) and speaks (logs, results); the others wait for it where they read what
it wrote.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import torch

T = TypeVar("T")

# Set by torchrun and by `accelerate launch` (which runs torchrun's agent) in every process they start.
_LAUNCHER_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


def accelerator_available() -> bool:
    """A GPU (CUDA) or Apple silicon (MPS) to train on; otherwise the CPU."""
    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def launched() -> bool:
    """True inside a process that a distributed launcher started with more than one process in the run."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and all(v in os.environ for v in _LAUNCHER_VARIABLES)


def _state():
    """accelerate's process state. Never cached: transformers' TrainingArguments resets accelerate's shared
    state when it builds its own, so a kept instance would go stale. `cpu` must be set for accelerate to form a
    gloo group on a machine without a GPU."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def world_size() -> int:
    return _state().num_processes if launched() else 1


def rank() -> int:
    return _state().process_index if launched() else 0


def is_main() -> bool:
    return rank() == 0


def describe() -> str:
    """`rank 1 of 2` for messages that must say which process spoke; read from the launcher's variables, so it
    works even when forming the process group is what failed."""
    return f"rank {os.environ.get('RANK', '0')} of {os.environ.get('WORLD_SIZE', '1')}"


def wait() -> None:
    """All ranks meet here (e.g. after the main process wrote a file the others read)."""
    if launched():
        _state().wait_for_everyone()


def silence_other_ranks() -> None:
    """Progress bars and library warnings from the main process only, so N processes print one log stream."""
    if not launched() or os.environ.get("RANK", "0") == "0":
        return
    import datasets
    import huggingface_hub
    import transformers

    datasets.disable_progress_bars()
    huggingface_hub.utils.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    datasets.utils.logging.set_verbosity_error()


def main_log(log: Callable[[str], None]) -> Callable[[str], None]:
    """`log` on the main process, silence elsewhere: one log stream for the run."""
    return log if is_main() else (lambda *_args, **_kwargs: None)


def from_main(compute: Callable[[], T]) -> T:
    """`compute()` on the main process, its value handed to every rank (e.g. a run folder's timestamped name,
    which two processes could otherwise compute a second apart)."""
    if not launched():
        return compute()
    from accelerate.utils import broadcast_object_list

    box = [compute() if is_main() else None]
    broadcast_object_list(box, from_process=0)
    return box[0]


@contextmanager
def main_first():
    """The main process runs the block first (e.g. preparing a shelf entry that writes files), then the others."""
    if not launched():
        yield
        return
    with _state().main_process_first():
        yield


def share_of(count: int) -> range:
    """This rank's contiguous share of `count` items; the shares, concatenated in rank order, are range(count)."""
    size, index = world_size(), rank()
    base, extra = divmod(count, size)
    start = index * base + min(index, extra)
    return range(start, start + base + (index < extra))


def shard(examples: Any) -> Any:
    """This rank's contiguous share of a datasets.Dataset or of a dict of equal-length columns."""
    if not launched():
        return examples
    if isinstance(examples, dict):
        count = len(next(iter(examples.values())))
        share = share_of(count)
        return {key: list(values[share.start : share.stop]) for key, values in examples.items()}
    return examples.select(share_of(len(examples)))


def gather_in_order(items: Sequence[T]) -> list[T]:
    """Every rank's list, concatenated in rank order, on every rank: with `shard`, the dataset's own order."""
    if not launched():
        return list(items)
    from accelerate.utils import gather_object

    return list(gather_object(list(items)))


def map_sharded(work: Callable[[Any], Sequence[T]], examples: Any) -> list[T]:
    """`work` over the examples, each rank doing its contiguous share; the results, in dataset order, on every
    rank. N processes do about 1/N of the work each, with the same results as one process."""
    return gather_in_order(work(shard(examples)))
