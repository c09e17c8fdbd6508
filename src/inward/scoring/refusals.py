"""Is an object-level answer usable at all? Non-empty and not opening with a refusal (the
lenient rule set's object compliance; every property of a refused answer is undefined)."""

from __future__ import annotations

from inward.scoring.cleaning import clean

# Checked against the start of the cleaned answer (lower case, straight apostrophes), so a
# story that merely contains "I'm sorry" later on still counts as an answer.
REFUSAL_MARKERS: list[str] = [
    "i'm sorry",
    "i am sorry",
    "sorry, i",
    "i apologize",
    "i apologise",
    "i cannot",
    "i can't",
    "i can not",
    "i am unable",
    "i'm unable",
    "i am not able",
    "i'm not able",
    "i won't",
    "i will not",
    "as an ai",
    "as a language model",
    "as an assistant",
]


def object_compliant(response: str | None) -> bool:
    """True if the object-level answer is non-empty and does not open with a refusal."""
    text = clean(response)
    return bool(text) and not any(text.startswith(m) for m in REFUSAL_MARKERS)
