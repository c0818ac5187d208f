"""Long-context QA from the bundled set: each question's own context is hidden among other articles'
contexts (a distractor haystack) until the whole reaches a target length, with the answer offsets moved along.
A model must then find the answer in 2k-8k tokens: in one pass (efficient attention, grown position table) or
by striding over windows (dense attention). Written as flat jsonl, one file per split, for `--data`.

    python -m tasks.question_answering.long_context --chars 8000 --out /tmp/qa-long [--questions 200]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tasks.question_answering import data

SEPARATOR = "\n\n"


def haystack(examples, target_chars: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    contexts = sorted(set(examples["context"]))
    rows = []
    for example in examples:
        others = [c for c in rng.sample(contexts, min(len(contexts), 64)) if c != example["context"]]
        pieces, size = [], len(example["context"])
        for other in others:
            if size >= target_chars:
                break
            pieces.append(other)
            size += len(other) + len(SEPARATOR)
        position = rng.randint(0, len(pieces))
        before = SEPARATOR.join(pieces[:position]) + (SEPARATOR if position else "")
        context = (
            before
            + example["context"]
            + ("" if position == len(pieces) else SEPARATOR)
            + SEPARATOR.join(pieces[position:])
        )
        answers = {
            "text": list(example["answers"]["text"]),
            "answer_start": [start + len(before) for start in example["answers"]["answer_start"]],
        }
        rows.append(
            {
                "id": example["id"],
                "title": example["title"],
                "question": example["question"],
                "context": context,
                "answers": answers,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=8000, help="context length in characters (~4 per token)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--questions", type=int, default=None, help="at most this many per split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        examples = data.load_examples(None, split)
        if args.questions:
            examples = examples.shuffle(seed=args.seed).select(range(min(args.questions, len(examples))))
        rows = haystack(examples, args.chars, args.seed)
        with (out / f"{split}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        print(
            f"{split}: {len(rows)} questions, mean context {sum(len(r['context']) for r in rows) / len(rows):.0f} chars"
        )


if __name__ == "__main__":
    main()
