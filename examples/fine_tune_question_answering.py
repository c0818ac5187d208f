"""Fine-tune, evaluate, ask and compress a question-answering model from a script, offline, with omnitune's
Python API (the same defaults and checks as the `omnitune` command).

    python examples/fine_tune_question_answering.py                       # the offline MiniLM on the bundled data
    python examples/fine_tune_question_answering.py --max_steps 20 --model /path/to/a/model --data my_squad.json
"""

from __future__ import annotations

import argparse

import omnitune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="shelf entry, folder or Hub id (default: the task's offline one)")
    parser.add_argument("--data", default=None, help="SQuAD-style file or folder (default: the bundled man-page set)")
    parser.add_argument("--max_steps", type=int, default=300, help="training steps (a budget in steps, not time)")
    parser.add_argument("--db", default=None, help="leaderboard database (default: the user's)")
    args = parser.parse_args()

    # LoRA with its own learning-rate rule (1e-3 unless given), exactly as `omnitune train ... --peft lora`
    # a budget in steps: no time limit, so a busy machine gives the same model
    outcome = omnitune.train(
        "question-answering",
        model=args.model,
        data=args.data,
        peft="lora",
        max_steps=args.max_steps,
        max_train_minutes=None,
        db=args.db,
    )
    print(
        f"run folder {outcome.train.run}: test F1 {outcome.report.metrics['f1']:.1f} "
        f"({outcome.train.trainable_parameters / 1e6:.2f}M parameters trained)"
    )

    answer = omnitune.predict(
        "question-answering",
        str(outcome.train.run),
        question="Which call creates a new process?",
        context="The fork() call creates a new process by duplicating the calling process.",
    )
    print(f"answer: {answer['text']!r} (score {answer['score']:.2f})")

    compressed = omnitune.compress(str(outcome.train.run), quantize="dynamic-int8", db=args.db)
    print(
        f"dynamic int8: test F1 {compressed['report']['metrics']['f1']:.1f}, "
        f"{compressed['report']['size_mb']:.1f} MB on disk -> {compressed['run']}"
    )


if __name__ == "__main__":
    main()
