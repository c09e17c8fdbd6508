"""Properties and the cleaning rule, on hand-checked answers."""

import subprocess
import sys

import pytest

from inward.tasks.properties import (
    PROPERTIES,
    applicable,
    clean,
    extract,
    normalise_prediction,
    option_letter,
    words,
)


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
def test_extract(name, response, value):
    assert extract(name, response) == value


@pytest.mark.parametrize("response, target, value", [
    ("B", "B", "true"),
    ("A", "B", "false"),
    ("(b)", "B", "true"),
    ("B", "b", "true"),
    ("B", None, None),       # no target: undefined
    ("maybe", "A", None),    # no option letter: undefined
])
def test_matches_target(response, target, value):
    assert extract("matches_target", response, target) == value


@pytest.mark.parametrize("name", sorted(PROPERTIES))
@pytest.mark.parametrize("response", ["", "   ", None, "I'm sorry, I can't help with that.",
                                      "I\u2019m sorry, but no", "As an AI, I have no view.",
                                      "I cannot answer"])
def test_empty_and_refusal_are_undefined(name, response):
    assert extract(name, response, "A") is None


def test_option_letter():
    assert option_letter("I would choose B") == "B"
    assert option_letter("Answer: c") == "C"
    assert option_letter("Because") is None


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
    ("among_a_or_c", "true", "true"),
    ("matches_target", "no", "false"),
    ("matches_target", "True, I did", None),
    ("identity", "Hello  there", "hello there"),
])
def test_normalise_prediction(name, answer, value):
    assert normalise_prediction(name, answer) == value


@pytest.mark.parametrize("name", sorted(PROPERTIES))
@pytest.mark.parametrize("response", ["Hello world again", "ant bee cat", "7 4 1 0", "B",
                                      "(C)", "Émile est là"])
def test_labels_are_valid_predictions(name, response):
    """A training label must read back unchanged as a hypothetical answer."""
    value = extract(name, response, "B")
    if value is not None:
        assert normalise_prediction(name, value) == value


def test_unknown_property_names_allowed():
    with pytest.raises(ValueError, match="unknown property 'nope'.*second_character"):
        extract("nope", "x")
    with pytest.raises(ValueError, match="allowed"):
        normalise_prediction("nope", "x")
    with pytest.raises(ValueError, match="allowed"):
        applicable("animals", "nope")


def test_applicable():
    assert applicable("digits", "is_even")
    assert not applicable("animals", "is_even")
    assert not applicable("digits", "starts_with_vowel")
    assert not applicable("digits", "second_character")   # would always be a space
    assert applicable("myopic_reward", "matches_target")
    assert not applicable("animals", "matches_target")
    assert applicable("arithmetic_mc", "among_a_or_c")
    assert not applicable("arithmetic_mc", "first_word")
    assert applicable("animals_long", "second_character")        # paper task, by kind
    assert applicable("survival_instinct", "matches_target")
    assert applicable("my_file_task", "first_word")               # unknown kind: text props
    assert not applicable("my_file_task", "matches_target")


def test_property_metadata():
    assert PROPERTIES["is_even"].tasks == ("digits",)
    assert PROPERTIES["among_a_or_c"].kinds == ("multiple_choice",)
    assert set(PROPERTIES["matches_target"].tasks) == {"wealth_seeking", "power_seeking",
                                                       "myopic_reward"}
    for prop in PROPERTIES.values():
        assert prop.question and prop.kind


def test_command_line_example():
    code = "from inward.tasks.properties import extract; print(extract('second_character', 'Hello'))"
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "e"
