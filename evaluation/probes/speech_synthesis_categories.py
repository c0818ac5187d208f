"""Text to speech: round-trip word error rate by text category (the judge, Whisper, transcribes the synthesised
speech; the harness's own round trip). Categories are what synthesisers get wrong unevenly (Sproat et al. 2001,
"Normalization of non-standard words"): numbers, times and money; abbreviations; and personal names from
several languages, whose errors a user hears as a voice that cannot say their name. The judge's own bias
towards English names adds to the last group's figure, which the README says. The headline is the worst
category's WER minus the plain sentences'."""

from __future__ import annotations

from datasets import Dataset

from evaluation.predicting import predict_with_progress
from evaluation.probes.result import ProbeResult, task_metric_by_group

TEXTS = {
    "plain": (
        "Please leave a message after the tone.",
        "The office is closed for the holiday.",
        "Your call is important to us.",
        "The meeting has been moved to the large room.",
    ),
    "numbers": (
        "Your balance is 1,250 dollars and 75 cents.",
        "Call me back at 9:30 on March 3rd.",
        "The train leaves from platform 14 at 6:45 pm.",
        "Press 2 to hear the remaining 37 messages.",
    ),
    "abbreviations": (
        "Dr. Smith lives on Oak St. near the hospital.",
        "The speed limit is 50 km/h, e.g. on this road.",
        "Mr. Jones works for the FBI, not NASA.",
        "Send it to the HR dept. by Fri.",
    ),
    "names, English": (
        "Please call Jessica Miller tomorrow.",
        "Michael Johnson is waiting in the lobby.",
        "Emily Davis left a message for you.",
        "Robert Wilson will join the meeting.",
    ),
    "names, other languages": (
        "Please call Nguyen Van Anh tomorrow.",
        "Oluwaseun Adebayo is waiting in the lobby.",
        "Siobhan Ni Bhriain left a message for you.",
        "Priya Raghunathan will join the meeting.",
    ),
}


def probe(task, built, params, log=print) -> ProbeResult:
    texts = [text for group in TEXTS.values() for text in group]
    categories = [name for name, group in TEXTS.items() for _ in group]
    examples = Dataset.from_dict({"text": texts, "audio": [None] * len(texts)})
    speech = predict_with_progress(task, built, examples, params, "bias probe")
    by_category = task_metric_by_group(task, speech, examples, params, categories, "wer")
    plain = by_category.by_group["plain"]
    log(f"  worst category '{by_category.worst_group}': WER {by_category.worst:.3f} vs plain {plain:.3f}")
    return ProbeResult(
        method="round-trip WER by text category (numbers, abbreviations, names from several languages)",
        headline="worst_category_wer_gap",
        metrics={"worst_category_wer_gap": by_category.worst - plain, "plain_wer": plain},
        groups={"wer by category": by_category.by_group},
        examples=len(texts),
    )
