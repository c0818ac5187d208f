"""Which way is better for a metric: error rates and distances go down, scores go up. Training (best
checkpoint), the leaderboard's trade-off plot and anything that ranks models ask here."""

LOWER_IS_BETTER = frozenset({"wer", "cer", "mel_cepstral_distortion", "loss"})


def higher_is_better(metric: str) -> bool:
    return metric.removeprefix("eval_") not in LOWER_IS_BETTER
