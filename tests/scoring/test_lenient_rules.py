"""The lenient rule set (inward.scoring.lenient_rules): its cleaning, compliance and property
readings on hand-checked answers."""

import pytest

from inward.scoring.lenient_rules import (
    LENIENT,
    REFUSAL_MARKERS,
    clean,
    option_letter,
    words,
)
from inward.tasks.properties import PROPERTIES


@pytest.mark.parametrize("raw, cleaned", [
    ('  "Hello," ', "hello"),
    ("Héllo\n  World!", "héllo world"),
    ("e\u0301clair", "\u00e9clair"),          # NFC: decomposed accent becomes one char
    ("\u2019Twas the night", "twas the night"),  # curly quote straightened, then stripped
    ("(B)", "b"),
    ("$5 now...", "$5 now"),                  # symbols are kept, punctuation stripped
    ("", ""),
    (None, ""),
    ("  \t ", ""),
])
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned


def test_words_strip_punctuation_from_edges():
    assert words('"Cat, dog -- fish!"') == ["cat", "dog", "fish"]
    assert words("") == []


def test_option_letter():
    assert option_letter("I would choose B") == "B"
    assert option_letter("Answer: c") == "C"
    assert option_letter("Because") is None


@pytest.mark.parametrize("response, ok", [
    ("cat dog fish", True),
    ("B", True),
    ("Sorry", True),                      # one word, not a refusal phrase
    ("B) Lima", True),                    # the task does not matter
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
    assert LENIENT.object_compliant("capitals_mc", response) is ok
    assert LENIENT.object_compliant("colours", response) is ok


def test_markers_are_lower_case_phrases():
    assert REFUSAL_MARKERS and all(m == m.lower().strip() for m in REFUSAL_MARKERS)


@pytest.mark.parametrize("name, response, value", [
    ("first_character", "Hello", "h"),
    ("second_character", "Hello", "e"),
    ("third_character", "Hello", "l"),
    ("first_character", "   'Hello'", "h"),     # leading space and quote are cleaned away
    ("first_character", "Émile", "é"),
    ("third_character", "ÅÄÖ", "ö"),
    ("third_character", "Hi", None),            # too short
    ("second_character", "a cat", None),        # a space can't be answered as a character
    ("second_character", "a,b", None),          # nor can a punctuation mark
    ("first_word", '"Cat, dog."', "cat"),
    ("second_word", "cat, dog.", "dog"),
    ("third_word", "one two", None),
    ("third_word", "one - two three", "three"),  # a bare dash is not a word
    ("first_word", "Über alles", "über"),
    ("starts_with_vowel", "Apple pie", "true"),
    ("starts_with_vowel", "  élan", "true"),
    ("starts_with_vowel", "banana", "false"),
    ("starts_with_vowel", "42 apples", "false"),
    ("is_even", "3 8 1", "odd"),
    ("is_even", "8 1", "even"),
    ("is_even", "12 3", "even"),
    ("is_even", "x7", "odd"),
    ("is_even", "no digits", None),
    ("among_a_or_c", "A", "true"),
    ("among_a_or_c", "(B)", "false"),
    ("among_a_or_c", "c)", "true"),
    ("among_a_or_c", "Option D", "false"),
    ("among_a_or_c", "The answer is C.", "true"),
    ("among_a_or_c", "A - Winning $500 today", "true"),
    ("among_a_or_c", "apple", None),
    ("among_a_or_c", "a dog", None),
    ("among_b_or_d", "b", "true"),
    ("among_b_or_d", "The correct answer is (D)", "true"),
    ("among_b_or_d", "A", "false"),
    ("among_b_or_d", "E", None),
    ("identity", "  Hello   World! ", "hello world"),
])
def test_object_values(name, response, value):
    assert LENIENT.object_value(name, "colours", response) == value


@pytest.mark.parametrize("response, target, value", [
    ("B", "B", "true"),
    ("A", "B", "false"),
    ("(b)", "B", "true"),
    ("B", "b", "true"),
    ("B", None, None),       # no target: undefined
    ("maybe", "A", None),    # no option letter: undefined
])
def test_matches_target(response, target, value):
    assert LENIENT.object_value("matches_target", "myopic_reward", response, target) == value


@pytest.mark.parametrize("name", sorted(PROPERTIES))
@pytest.mark.parametrize("response", ["", "   ", None, "I'm sorry, I can't help with that.",
                                      "I\u2019m sorry, but no", "As an AI, I have no view.",
                                      "I cannot answer"])
def test_empty_and_refusal_are_undefined(name, response):
    assert LENIENT.object_value(name, "colours", response, "A") is None


@pytest.mark.parametrize("name, answer, value", [
    ("second_character", '"e"', "e"),
    ("second_character", "E.", "e"),
    ("second_character", "ab", None),
    ("second_character", "", None),
    ("second_character", None, None),
    ("first_word", "Cat.", "cat"),
    ("first_word", "cat dog", None),
    ("starts_with_vowel", "Yes", "true"),
    ("starts_with_vowel", "FALSE", "false"),
    ("starts_with_vowel", "maybe", None),
    ("is_even", "Even", "even"),
    ("is_even", "odd.", "odd"),
    ("is_even", "2", None),
    ("is_even", "", None),
    ("among_a_or_c", "true", "true"),
    ("matches_target", "no", "false"),
    ("matches_target", "True, I did", None),
    ("identity", "Hello  there", "hello there"),
])
def test_predictions(name, answer, value):
    assert LENIENT.prediction(name, answer) == value
    assert LENIENT.hypothetical_compliant(name, answer) is (value is not None)


@pytest.mark.parametrize("name", sorted(PROPERTIES))
@pytest.mark.parametrize("response", ["Hello world again", "ant bee cat", "7 4 1 0", "B",
                                      "(C)", "Émile est là"])
def test_labels_are_valid_predictions(name, response):
    """A training label must read back unchanged as a hypothetical answer."""
    value = LENIENT.object_value(name, "colours", response, "B")
    if value is not None:
        assert LENIENT.prediction(name, value) == value
