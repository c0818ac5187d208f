"""From profiles (one row per example, all splits) to figures and warnings: sizes, empty and unreadable rows,
duplicates within a split and leakage across splits, label balance, length outliers, gendered words, image
statistics per class, and speech duration, level and speakers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shared.wordlists.names import CATEGORIES

NEAR_IMAGE_BITS = 12  # of dHash's 256: re-encoded, resized copies of noise differ by 6-12; unrelated images by ~120
MINORITY_SHARE = 0.02  # a class below this share of the training data is warned about
IMBALANCE_RATIO = 10  # largest / smallest class above this is warned about
GENDER_RATIO = 3.0  # one gender's words this many times the other's (with enough mentions) is warned about
GENDER_MIN_MENTIONS = 20
OUTLIER_IQR = 3.0  # beyond Q3 + 3 IQR (or below Q1 - 3 IQR) ...
OUTLIER_TIMES_MEDIAN = 3.0  # ... and 3x the median (or a third of it): an extreme length


@dataclass
class Findings:
    facts: dict = field(default_factory=dict)  # numbers, for JSON
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # for the Markdown report
    warnings: list[str] = field(default_factory=list)


def find(profiles: pd.DataFrame, columns: dict[str, str], train_split: str = "train") -> Findings:
    findings = Findings()
    findings.facts["examples"] = profiles.groupby("split").size().to_dict()
    _empty_and_unreadable(profiles, columns, findings)
    _duplicates_and_leakage(profiles, train_split, findings)
    for column, kind in columns.items():
        if f"{column}.label" in profiles:
            _balance(profiles, column, train_split, findings)
        if f"{column}.words" in profiles:
            _lengths(profiles, column, findings)
        if kind in ("text", "words"):  # the word lists are English: inputs only (a target may be Spanish)
            _gender(profiles, column, findings)
            _names(profiles, column, findings)
        if kind == "image" and f"{column}.brightness" in profiles:
            label = next((c for c, k in columns.items() if k == "label"), None)
            _images(profiles, column, label, findings)
        if kind in ("audio", "target-audio") and f"{column}.seconds" in profiles:
            _audio(profiles, column, findings)
    _speakers(profiles, columns, findings)
    return findings


def _empty_and_unreadable(profiles, columns, findings: Findings) -> None:
    for column in columns:
        for fact, what in (("empty", "empty"), ("garbage", "mostly symbols or digits"), ("unreadable", "unreadable")):
            name = f"{column}.{fact}"
            if name not in profiles:
                continue
            bad = profiles[profiles[name].fillna(False).astype(bool)]
            findings.facts[f"{column}_{fact}"] = int(len(bad))
            if len(bad):
                where = ", ".join(f"{split} row {row}" for split, row in zip(bad["split"][:5], bad["row"][:5]))
                findings.warnings.append(
                    f"{len(bad)} {what} `{column}` value(s) ({where}{', ...' if len(bad) > 5 else ''}): "
                    "fix or drop them before training"
                )


def _near_copies(group: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.Series:
    """Which rows of `group` are near copies of an earlier row of it (reference None) or of any row of
    `reference`: equal folded identity, or, for images, difference hashes at most NEAR_IMAGE_BITS apart."""
    hashes = [c for c in group.columns if c.endswith(".dhash")]
    if not hashes:
        return group["near"].duplicated() if reference is None else group["near"].isin(set(reference["near"]))
    near = pd.Series(False, index=group.index)
    for column in hashes:
        mine = _bits(group[column])
        theirs = mine if reference is None else _bits(reference[column])
        for start in range(0, len(mine), 512):  # (512 x reference) distances at a time
            distances = np.bitwise_count(mine[start : start + 512, None] ^ theirs[None, :]).sum(axis=-1)
            close = distances <= NEAR_IMAGE_BITS
            if reference is None:  # only earlier rows count: the first of a group is the original
                close &= np.arange(len(theirs))[None, :] < np.arange(start, start + len(close))[:, None]
            near.iloc[start : start + len(close)] |= close.any(axis=1)
    return near


def _bits(hashes: pd.Series) -> np.ndarray:
    """(rows, 4) uint64 words of the 256-bit hashes (an unreadable image's empty hash: all zero)."""
    words = [
        [int(value[i : i + 16], 16) for i in range(0, 64, 16)] if isinstance(value, str) and value else [0] * 4
        for value in hashes
    ]
    return np.array(words, dtype=np.uint64).reshape(-1, 4)


def _duplicates_and_leakage(profiles, train_split: str, findings: Findings) -> None:
    rows = []
    for split, group in profiles.groupby("split"):
        exact = int(group["identity"].duplicated().sum())
        near = int(_near_copies(group).sum()) - exact
        rows.append({"split": split, "examples": len(group), "exact duplicates": exact, "near duplicates": near})
        if exact or near:
            findings.warnings.append(
                f"{split}: {exact} exact and {near} near duplicate example(s): they weigh double in "
                f"{'training' if split == train_split else 'the score'}"
            )
    train = profiles[profiles["split"] == train_split]
    for split, group in profiles[profiles["split"] != train_split].groupby("split"):
        exact = int(group["identity"].isin(set(train["identity"])).sum())
        near = int(_near_copies(group, train).sum()) - exact
        row = next(r for r in rows if r["split"] == split)
        row.update({"also in train (exact)": exact, "also in train (near)": near})
        findings.facts[f"leakage_{split}"] = {"exact": exact, "near": near}
        if exact or near:
            findings.warnings.append(
                f"leakage: {exact + near} of {len(group)} {split} example(s) also appear in {train_split} "
                f"({exact} exactly, {near} nearly): the {split} score overstates what the model does on new data"
            )
    table = pd.DataFrame(rows).set_index("split")
    findings.tables["duplicates"] = table.fillna(0).astype(int)


def _balance(profiles, column: str, train_split: str, findings: Findings) -> None:
    counts = profiles.groupby([f"{column}.label", "split"]).size().unstack(fill_value=0)
    findings.tables[f"{column} balance"] = counts
    findings.facts[f"{column}_counts"] = {split: counts[split].to_dict() for split in counts.columns}
    if train_split not in counts:
        return
    train = counts[train_split]
    shares = train / max(train.sum(), 1)
    for label, share in shares[shares < MINORITY_SHARE].items():
        findings.warnings.append(
            f"class '{label}' is {share:.1%} of {train_split} ({train[label]} examples): a model can ignore it "
            "and lose little; weigh or resample it, and read its recall, not only accuracy"
        )
    if train.min() > 0 and train.max() / train.min() > IMBALANCE_RATIO:
        findings.warnings.append(
            f"{train_split} classes range from {train.min()} to {train.max()} examples "
            f"({train.max() / train.min():.0f}:1): consider class-balanced sampling"
        )
    for split in counts.columns:
        unseen = [label for label in counts.index if counts.loc[label, split] and not train.get(label, 0)]
        if split != train_split and unseen:
            findings.warnings.append(f"{split} has classes never seen in {train_split}: {', '.join(unseen)}")


def _lengths(profiles, column: str, findings: Findings) -> None:
    words = profiles[f"{column}.words"].astype(float)
    low, high = words.quantile(0.25), words.quantile(0.75)
    spread = high - low
    # far outside the bulk AND several times the typical length: a short-text column's narrow spread alone
    # would make a 13-word question "extreme"
    median = words.median()
    outliers = profiles[
        ((words > high + OUTLIER_IQR * spread) & (words > OUTLIER_TIMES_MEDIAN * median))
        | ((words < low - OUTLIER_IQR * spread) & (words < median / OUTLIER_TIMES_MEDIAN))
    ]
    summary = profiles.groupby("split")[f"{column}.words"].describe()[["mean", "min", "50%", "max"]].round(1)
    findings.tables[f"{column} length (words)"] = summary
    findings.facts[f"{column}_length_outliers"] = int(len(outliers))
    if len(outliers):
        findings.warnings.append(
            f"{len(outliers)} `{column}` value(s) of extreme length (over {OUTLIER_TIMES_MEDIAN:g}x the median "
            f"{median:.0f} words and outside {OUTLIER_IQR:g} IQR), e.g. {outliers['split'].iloc[0]} row "
            f"{outliers['row'].iloc[0]}: "
            f"{int(outliers[f'{column}.words'].iloc[0])} words; check they are not concatenation or extraction errors"
        )


def _gender(profiles, column: str, findings: Findings) -> None:
    female, male = int(profiles[f"{column}.female"].sum()), int(profiles[f"{column}.male"].sum())
    rows = len(profiles)
    table = {
        "female words": female,
        "male words": male,
        "rows with female words": f"{(profiles[f'{column}.female'] > 0).sum() / max(rows, 1):.1%}",
        "rows with male words": f"{(profiles[f'{column}.male'] > 0).sum() / max(rows, 1):.1%}",
    }
    findings.facts[f"{column}_gendered_words"] = {"female": female, "male": male}
    findings.tables[f"{column} gendered words"] = pd.DataFrame([table])
    more, fewer = max(female, male), min(female, male)
    if _skewed(more, fewer):
        majority = "male" if male > female else "female"
        findings.warnings.append(
            f"`{column}` has {more} {majority} and {fewer} {'female' if majority == 'male' else 'male'} gendered "
            "words (English word list): a model may learn the majority's pronouns and roles as the default"
        )


def _skewed(more: int, fewer: int) -> bool:
    """One group mentioned GENDER_RATIO times as often as the other, with enough mentions to say so."""
    return more >= GENDER_MIN_MENTIONS and more > GENDER_RATIO * max(fewer, 1)


def _names(profiles, column: str, findings: Findings) -> None:
    """Mentions of first names by category (shared/wordlists/names.py), and a warning where one group of a
    category is named far more often than the other."""
    rows = max(len(profiles), 1)
    table, facts = [], {}
    for category, groups in CATEGORIES.items():
        counts = {group: int(profiles[f"{column}.names:{group}"].sum()) for group in groups}
        for group, count in counts.items():
            share = (profiles[f"{column}.names:{group}"] > 0).sum() / rows
            table.append({"category": category, "group": group, "mentions": count, "rows": f"{share:.1%}"})
        facts[category] = counts
        (most, more), (least, fewer) = (
            max(counts.items(), key=lambda kv: kv[1]),
            min(counts.items(), key=lambda kv: kv[1]),
        )
        if _skewed(more, fewer):
            findings.warnings.append(
                f"`{column}` mentions {more} {most} and {fewer} {least} ({category}): a model may answer, "
                "translate or summarise the rarer group's names worse"
            )
    findings.facts[f"{column}_names"] = facts
    findings.tables[f"{column} names by category"] = pd.DataFrame(table)


def _images(profiles, column: str, label: str | None, findings: Findings) -> None:
    facts = [f"{column}.{name}" for name in ("width", "height", "brightness", "contrast")]
    by = [f"{label}.label"] if label else ["split"]
    table = profiles.groupby(by)[facts].mean().round(1)
    table.columns = ["width", "height", "brightness", "contrast"]
    findings.tables[f"{column} statistics"] = table
    sizes = profiles.groupby([f"{column}.width", f"{column}.height"]).size()
    findings.facts[f"{column}_sizes"] = {f"{w}x{h}": int(n) for (w, h), n in sizes.items()}
    if len(sizes) > 1:
        findings.warnings.append(
            f"{len(sizes)} different image sizes (most common {sizes.idxmax()[0]}x{sizes.idxmax()[1]}): if "
            "size goes with class, a model can learn the size instead of the content"
        )
    brightness = table["brightness"]
    if label and len(brightness) > 2 and brightness.std() > 0:
        outlying = brightness[(brightness - brightness.mean()).abs() > 2 * brightness.std()]
        for name, value in outlying.items():
            findings.warnings.append(
                f"class '{name}' is much {'brighter' if value > brightness.mean() else 'darker'} than the others "
                f"(mean {value:.0f} vs {brightness.mean():.0f}): brightness alone may identify it"
            )


def _audio(profiles, column: str, findings: Findings) -> None:
    table = (
        profiles.groupby("split")[[f"{column}.seconds", f"{column}.level_db"]].agg(["min", "median", "max"]).round(1)
    )
    table.columns = [f"{'seconds' if 'seconds' in a else 'level dBFS'} {b}" for a, b in table.columns]
    findings.tables[f"{column} duration and level"] = table
    rates = sorted(profiles[f"{column}.sample_rate"].dropna().astype(int).unique().tolist())
    findings.facts[f"{column}_sample_rates"] = rates
    if len(rates) > 1:
        findings.warnings.append(f"mixed sample rates {rates}: they are resampled, but quality differs by source")


def _speakers(profiles, columns: dict[str, str], findings: Findings) -> None:
    speaker = next((c for c, k in columns.items() if k == "speaker"), None)
    has_audio = any(kind in ("audio", "target-audio") for kind in columns.values())
    if not has_audio:
        return
    if speaker is None or f"{speaker}.value" not in profiles:
        findings.warnings.append(
            "no speaker column: the audit cannot say how many voices the data has; a speech model scored on "
            "few voices says little about others"
        )
        return
    counts = profiles.groupby(f"{speaker}.value").size().sort_values(ascending=False)
    findings.facts["speakers"] = counts.to_dict()
    findings.tables["speakers"] = counts.rename("clips").to_frame()
    if len(counts) == 1:
        findings.warnings.append(
            f"one speaker ({counts.index[0]}) in every split: word error rates measure this voice only, not "
            "speaker-independent recognition"
        )
    elif counts.iloc[0] / counts.sum() > 0.5:
        findings.warnings.append(f"speaker '{counts.index[0]}' has {counts.iloc[0] / counts.sum():.0%} of the clips")
