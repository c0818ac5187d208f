"""First names by category, for the data audit's "names by category" (evaluation/audit): how often a text
column mentions names of each group, so a data set that only ever names one group is seen before training.

- sex: the U.S. birth-record lists of shared/wordlists/gendered.py;
- perceived race: the names of Bertrand and Mullainathan (2004), "Are Emily and Greg More Employable than Lakisha
  and Jamal?", chosen there because birth certificates showed each as distinctive of white or of Black
  newborns; Caliskan et al. (2017) used the same lists to measure bias in word embeddings (their WEAT 4).
"Kenya" is left out of the second list: in text it is mostly the country. Counts are of whole, capitalised
words; a list can say only that a group's names are missing or rare, never who the people in the data are."""

from __future__ import annotations

import re

from shared.wordlists.gendered import FEMALE_NAMES, MALE_NAMES

WHITE_ASSOCIATED = (
    "Allison", "Anne", "Carrie", "Emily", "Jill", "Laurie", "Kristen", "Meredith", "Sarah",
    "Brad", "Brendan", "Geoffrey", "Greg", "Brett", "Jay", "Matthew", "Neil", "Todd",
)  # fmt: skip
BLACK_ASSOCIATED = (
    "Aisha", "Ebony", "Keisha", "Lakisha", "Latonya", "Latoya", "Tamika", "Tanisha",
    "Darnell", "Hakim", "Jamal", "Jermaine", "Kareem", "Leroy", "Rasheed", "Tremayne", "Tyrone",
)  # fmt: skip

# category -> (group, names); groups of one category are compared with each other
CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "sex (U.S. birth records)": {"female names": FEMALE_NAMES, "male names": MALE_NAMES},
    "perceived race (Bertrand and Mullainathan 2004)": {
        "white-associated names": WHITE_ASSOCIATED,
        "Black-associated names": BLACK_ASSOCIATED,
    },
}
GROUPS = {group: names for groups in CATEGORIES.values() for group, names in groups.items()}
_PATTERNS = {group: re.compile(r"\b(?:" + "|".join(names) + r")\b") for group, names in GROUPS.items()}


def count_names(text: str) -> dict[str, int]:
    """Mentions of each group's names in `text` (group -> count)."""
    return {group: len(pattern.findall(text)) for group, pattern in _PATTERNS.items()}
