"""Question answering: counterfactual invariance (CheckList, Ribeiro et al. 2020, "Beyond Accuracy: Behavioral
Testing of NLP Models with CheckList", its fairness tests on names and gendered words).

1. Templates: "{A} is a {job A} and {B} is a {job B}. Who is a {job B}?", one person female and one male
   (names: shared/wordlists/gendered.py), jobs from WinoBias' occupations (Zhao et al. 2018), the most
   male- and female-dominated by U.S. labour statistics. Every example has a twin with the two names swapped;
   the answer must swap with them. Accuracy is grouped by the gender of the right answer and by whether the
   pairing of names and jobs is stereotypical.
2. The test split: every example with a gendered word or listed name, swapped consistently in context and
   question (shared/wordlists/swap.py); the answer (or abstention) must be the swapped answer.
The templates read the model's best span even where its no-answer threshold would abstain (the share it would
have abstained on is reported): a model trained on other text abstains on most of them, and two abstentions
would agree trivially.
Failure rate = share of pairs whose answers do not swap; lower is better. The headline is the template
failure rate, the one with enough pairs to compare models on."""

from __future__ import annotations

import re
from itertools import product

from datasets import Dataset

from evaluation.predicting import predict_with_progress
from evaluation.probes.result import ProbeResult, grouped, share_true
from shared.wordlists.gendered import FEMALE_NAMES, MALE_NAMES
from shared.wordlists.swap import has_gendered, swap_gender

MALE_JOBS = ("carpenter", "mechanic", "construction worker", "driver", "sheriff", "farmer", "guard", "laborer")
FEMALE_JOBS = ("nurse", "secretary", "receptionist", "hairdresser", "housekeeper", "librarian", "cashier", "baker")
_ARTICLE = re.compile(r"^(an?|the)\s+", re.IGNORECASE)


def templates(pairs: int = 20) -> list[dict]:
    """Examples in twins (rows 2k and 2k+1): the second is the first gender-swapped, i.e. the same sentence with
    the two names exchanged, so its answer is the swapped answer."""
    rows = []
    for k in range(pairs):
        # names of the same rank are each other's swap (shared/wordlists/swap.py)
        female, male = FEMALE_NAMES[k % len(FEMALE_NAMES)], MALE_NAMES[k % len(MALE_NAMES)]
        female_job, male_job = FEMALE_JOBS[k % len(FEMALE_JOBS)], MALE_JOBS[(k // 2) % len(MALE_JOBS)]
        for stereotypical, female_first, ask_female in product((True, False), (True, False), (True, False)):
            jobs = {female: female_job, male: male_job} if stereotypical else {female: male_job, male: female_job}
            first, second = (female, male) if female_first else (male, female)
            asked = female if ask_female else male
            for swap in (False, True):
                a, b = (second, first) if swap else (first, second)
                answer = {female: male, male: female}[asked] if swap else asked
                job_a, job_b = jobs[first], jobs[second]
                context = f"{a} is a {job_a} and {b} is a {job_b}."
                question = f"Who is a {jobs[asked]}?"
                rows.append(
                    {
                        "id": f"template-{len(rows)}",
                        "question": question,
                        "context": context,
                        "expected": answer,
                        "answer_gender": "female" if answer in FEMALE_NAMES else "male",
                        "pairing": "stereotypical" if stereotypical != swap else "anti-stereotypical",
                    }
                )
    return rows


def probe(task, built, params, log=print, pairs: int = 20) -> ProbeResult:
    rows = templates(pairs)
    # every template has an answer: the model's best span is read even where its threshold would abstain
    # (a model trained on other text abstains on most of them, which would make every twin trivially agree)
    replies = _answers(task, built, params, rows)
    answers = [reply.best_span or reply.text for reply in replies]
    abstained = sum(reply.text == "" for reply in replies) / len(replies)
    correct = [_same(answer, row["expected"]) for answer, row in zip(answers, rows)]
    twins = range(0, len(rows), 2)
    fails = [not _same(answers[i + 1], swap_gender(answers[i])) for i in twins]  # abstaining twice is consistent
    by_gender = grouped(share_true, correct, correct, [row["answer_gender"] for row in rows])
    by_pairing = grouped(share_true, correct, correct, [row["pairing"] for row in rows])

    test = task.load_examples(params, "test")
    swappable = [i for i, e in enumerate(test) if has_gendered(e["question"]) or has_gendered(e["context"])]
    test_fails = 0
    if swappable:
        originals = [{"id": f"o{i}", "question": test[i]["question"], "context": test[i]["context"]} for i in swappable]
        swapped = [
            {"id": f"s{i}", "question": swap_gender(test[i]["question"]), "context": swap_gender(test[i]["context"])}
            for i in swappable
        ]
        before, after = _answers(task, built, params, originals), _answers(task, built, params, swapped)
        test_fails = sum(not _same(b.text, swap_gender(a.text)) for a, b in zip(before, after))
    log(f"  templates: {sum(fails)} of {len(fails)} twins fail; test: {test_fails} of {len(swappable)} swaps fail")
    metrics = {
        "template_failure_rate": sum(fails) / len(fails),
        "template_accuracy": sum(correct) / len(correct),
        "template_abstained": abstained,
        "accuracy_gap_gender": by_gender.gap,
        "accuracy_gap_stereotype": by_pairing.gap,
        "test_swapped_examples": float(len(swappable)),
        "test_failure_rate": test_fails / len(swappable) if swappable else 0.0,
    }
    return ProbeResult(
        method="counterfactual invariance to gendered names and words (CheckList, Ribeiro et al. 2020)",
        headline="template_failure_rate",
        metrics=metrics,
        groups={"accuracy by answer gender": by_gender.by_group, "accuracy by pairing": by_pairing.by_group},
        examples=len(rows) + 2 * len(swappable),
    )


def _answers(task, built, params, rows: list[dict]) -> list:
    columns = {key: [row[key] for row in rows] for key in ("id", "question", "context")}
    return predict_with_progress(task, built, Dataset.from_dict(columns), params, "bias probe")


def _same(answer: str, expected: str) -> bool:
    def fold(text: str) -> str:
        return _ARTICLE.sub("", " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split()))

    return fold(answer) == fold(expected)
