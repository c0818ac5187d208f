"""Gendered English words and first names: the data audit's counts, the bias probes' and the counterfactual
augmentation's swaps (shared/wordlists/swap.py).

Words: the ten definitional pairs of Bolukbasi et al. (2016), "Man is to Computer Programmer as Woman is to
Homemaker? Debiasing Word Embeddings" (she/he, her/his, woman/man, Mary/John, herself/himself, daughter/son,
mother/father, gal/guy, girl/boy, female/male), extended with their plurals and the kinship and title words
of the same kind (WinoBias, Zhao et al. 2018, swaps gender with such lists); "ms" is left out, since in
technical text it is milliseconds. Names: the lists below, by sex, with their source."""

from __future__ import annotations

PAIRS = (
    ("she", "he"),
    ("her", "his"),
    ("her", "him"),
    ("hers", "his"),
    ("herself", "himself"),
    ("woman", "man"),
    ("women", "men"),
    ("daughter", "son"),
    ("daughters", "sons"),
    ("mother", "father"),
    ("mothers", "fathers"),
    ("gal", "guy"),
    ("gals", "guys"),
    ("girl", "boy"),
    ("girls", "boys"),
    ("female", "male"),
    ("females", "males"),
    ("sister", "brother"),
    ("sisters", "brothers"),
    ("wife", "husband"),
    ("wives", "husbands"),
    ("aunt", "uncle"),
    ("niece", "nephew"),
    ("queen", "king"),
    ("lady", "gentleman"),
    ("ladies", "gentlemen"),
    ("mrs", "mr"),
    ("madam", "sir"),
    ("grandmother", "grandfather"),
    ("mom", "dad"),
    ("mum", "dad"),
)
FEMALE = frozenset(female for female, _ in PAIRS)
MALE = frozenset(male for _, male in PAIRS)

# U.S. first names, the twenty most frequent per sex among births of the 1990s (Social Security Administration,
# "Top names of the 1990s", ssa.gov/oact/babynames/decades/names1990s.html; public domain), paired by rank so
# that a swap replaces a name with one as common.
FEMALE_NAMES = (
    "Jessica", "Ashley", "Emily", "Sarah", "Samantha", "Amanda", "Brittany", "Elizabeth", "Taylor", "Megan",
    "Hannah", "Kayla", "Lauren", "Stephanie", "Rachel", "Jennifer", "Nicole", "Alexis", "Victoria", "Amber",
)  # fmt: skip
MALE_NAMES = (
    "Michael", "Christopher", "Matthew", "Joshua", "Jacob", "Nicholas", "Andrew", "Daniel", "Tyler", "Joseph",
    "Brandon", "David", "James", "Ryan", "John", "Zachary", "Justin", "William", "Anthony", "Robert",
)  # fmt: skip
