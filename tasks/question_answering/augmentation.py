"""Counterfactual data augmentation (Lu et al. 2020, "Gender Bias in Neural Natural Language Processing"; the
gender-swapped training copies of Zhao et al. 2018): every training example with a gendered word or listed name
is added again with them swapped (shared/wordlists/swap.py), its answer span moved to where the swapped answer
now stands. A model then sees each role with both genders as often."""

from __future__ import annotations

from datasets import Dataset, concatenate_datasets

from shared.wordlists.swap import has_gendered, swap_gender


def with_gender_swapped_copies(examples: Dataset) -> tuple[Dataset, int]:
    """`examples` and the swapped copies of those that have something to swap; how many were added."""
    copies = [swapped(example) for example in examples if _swappable(example)]
    copies = [copy for copy in copies if copy is not None]
    if not copies:
        return examples, 0
    added = Dataset.from_list(copies, features=examples.features)
    return concatenate_datasets([examples, added]), len(copies)


def _swappable(example: dict) -> bool:
    return has_gendered(example["question"]) or has_gendered(example["context"])


def swapped(example: dict) -> dict | None:
    """The example gender-swapped, or None when its answers overlap (no single place for each)."""
    context, answers = example["context"], example["answers"]
    spans = sorted(
        (start, start + len(text)) for text, start in zip(answers["text"], answers["answer_start"]) if start >= 0
    )
    if any(later[0] < earlier[1] and later != earlier for earlier, later in zip(spans, spans[1:])):
        return None
    # swap piece by piece so that each answer's new offsets are known: text before, the answer, text after
    pieces, cursor, moved = [], 0, {}
    for start, end in dict.fromkeys(spans):
        pieces.append(swap_gender(context[cursor:start]))
        new_start = sum(len(piece) for piece in pieces)
        pieces.append(swap_gender(context[start:end]))
        moved[start] = new_start
        cursor = end
    pieces.append(swap_gender(context[cursor:]))
    return {
        **example,
        "id": f"{example['id']}-swapped",
        "question": swap_gender(example["question"]),
        "context": "".join(pieces),
        "answers": {
            "text": [swap_gender(text) for text in answers["text"]],
            "answer_start": [moved.get(start, start) for start in answers["answer_start"]],
        },
    }
