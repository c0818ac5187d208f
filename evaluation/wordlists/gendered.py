"""Gendered English words, for the share of female and male references in text data.

Source: the ten definitional pairs of Bolukbasi et al. (2016), "Man is to Computer Programmer as Woman is to
Homemaker? Debiasing Word Embeddings" (she/he, her/his, woman/man, Mary/John, herself/himself,
daughter/son, mother/father, gal/guy, girl/boy, female/male), extended here with their plurals and the common
kinship and title words of the same kind (WinoBias, Zhao et al. 2018, uses such lists to swap gender). The
names Mary/John are left out: a name list by category would be needed to count names fairly."""

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
    ("ms", "mr"),
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
