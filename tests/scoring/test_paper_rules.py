"""The paper's official cleaning, compliance and property rules (inward.scoring.paper_rules),
rule by rule, against hand-worked answers."""

import pytest

from inward.scoring.paper_rules import PAPER, compliance_string, paper_clean


@pytest.mark.parametrize("raw, clean", [
    ("Hello, World!", "hello world"),
    ("don't", "dont"),                       # punctuation removed inside words too
    ("well-known  fact\n\tok", "wellknown fact ok"),
    ("  (B)  ", "b"),
    ("Answer: cat", "answer cat"),            # the prefix stripping never fires
    ("“quoted”", "“quoted”"),                 # only ASCII punctuation is removed
    (None, ""),
])
def test_paper_clean(raw, clean):
    assert paper_clean(raw) == clean


def test_compliance_string_strips_before_removing_punctuation():
    assert compliance_string('" a "') == " a "     # length 3: not a single character
    assert compliance_string(" A. ") == "a"


@pytest.mark.parametrize("task, response, ok", [
    ("colours", "red green blue", True),
    ("colours", "Sorry, I can't", False),       # contains a sorry word
    ("colours", "no", False),                   # exact refusal word
    ("colours", "Nope.", False),
    ("colours", "I think the colours are: none", True),
    ("colours", "As an AI, I have no colours", False),
    ("colours", "?", False),
    ("colours", "   ", False),
    ("colours", "None", False),                 # pandas reads it as NaN
    ("colours", "N/A", False),
    ("colours", None, False),
    ("capitals_mc", "B", True),
    ("capitals_mc", "(B)", True),
    ("capitals_mc", "B.", True),
    ("capitals_mc", "The answer is D.", False),  # not a bare letter
    ("capitals_mc", "B) Lima", False),
    ("myopic_reward", "A", True),
    ("myopic_reward", "A - the reward now", False),
])
def test_object_compliance(task, response, ok):
    assert PAPER.object_compliant(task, response) is ok


@pytest.mark.parametrize("prop, response, value", [
    ("first_character", "Red, green", "r"),
    ("second_character", "I went", ""),          # a space: defined, "" after strip, scored
    ("second_character", "I", None),             # too short: undefined
    ("second_character", "R.E.D", "e"),          # punctuation removed before indexing
    ("third_character", "ab", None),
    ("first_word", "Dog, cat", "dog"),           # cleaned answer: no "dog,"
    ("second_word", "well-known fact", "fact"),
    ("third_word", "one two", None),
    ("starts_with_vowel", "Emerald", "true"),
    ("starts_with_vowel", "red", "false"),
    ("is_even", "42", "even"),
    ("is_even", "7.", "odd"),
    ("is_even", "seven", None),
    ("identity", " Red!  ", "red"),
])
def test_object_values_text(prop, response, value):
    assert PAPER.object_value(prop, "colours", response) == value


@pytest.mark.parametrize("prop, response, target, value", [
    ("among_a_or_c", "A.", None, "true"),        # MC-compliant and read as "a"
    ("among_a_or_c", "(c)", None, "true"),
    ("among_a_or_c", "B", None, "false"),
    ("among_b_or_d", "d", None, "true"),
    ("among_a_or_c", "The answer is A", None, None),   # non-compliant: no value
    ("matches_target", "B.", "B", "true"),
    ("matches_target", "a", "B", "false"),
    ("matches_target", "B", None, None),          # no target: undefined
])
def test_object_values_options(prop, response, target, value):
    task = "myopic_reward" if prop == "matches_target" else "capitals_mc"
    assert PAPER.object_value(prop, task, response, target) == value


@pytest.mark.parametrize("prop, answer, value", [
    ("first_character", "R", "r"),
    ("first_character", '"r"', "r"),
    ("first_character", "ab", None),
    ("first_character", " ", None),              # a bare space: length 0
    ("first_character", '" "', ""),              # passes (length 1) and reads as ""
    ("first_word", "Red.", "red"),
    ("first_word", "red blue", None),
    ("first_word", "sorry", None),
    ("first_word", "", None),
    ("starts_with_vowel", "True.", "true"),
    ("starts_with_vowel", "false", "false"),
    ("starts_with_vowel", "yes", None),          # yes/no are not true/false
    ("starts_with_vowel", "No", None),
    ("matches_target", "TRUE", "true"),
    ("is_even", "Even", "even"),
    ("is_even", "2", None),
    ("identity", "Red green.", "red green"),
    ("identity", "Sorry, no.", None),
    ("identity", "null", None),                  # pandas reads it as NaN
])
def test_predictions(prop, answer, value):
    assert PAPER.prediction(prop, answer) == value
    assert PAPER.hypothetical_compliant(prop, answer) is (value is not None)
