"""Object-level and hypothetical compliance checks."""

import pytest

from inward.scoring.compliance import REFUSAL_MARKERS, hypothetical_compliant, object_compliant


@pytest.mark.parametrize("response, ok", [
    ("cat dog fish", True),
    ("B", True),
    ("Sorry", True),                      # one word, not a refusal phrase
    ("", False),
    ("   \n", False),
    (None, False),
    ("...", False),                       # nothing left after cleaning
    ("I'm sorry, but I can't do that.", False),
    ("I\u2019m sorry", False),            # curly apostrophe
    ("I cannot continue this list.", False),
    ("As an AI language model, I have no preferences.", False),
    ('  "I am unable to answer"', False),
])
def test_object_compliant(response, ok):
    assert object_compliant(response) is ok


def test_markers_are_lower_case_phrases():
    assert REFUSAL_MARKERS and all(m == m.lower().strip() for m in REFUSAL_MARKERS)


@pytest.mark.parametrize("prop, answer, ok", [
    ("first_word", "cat", True),
    ("first_word", "cat dog", False),
    ("second_character", "e", True),
    ("second_character", "the letter e", False),
    ("matches_target", "False", True),
    ("is_even", "", False),
])
def test_hypothetical_compliant(prop, answer, ok):
    assert hypothetical_compliant(prop, answer) is ok
