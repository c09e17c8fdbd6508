"""The property registry: names, questions, value kinds and which tasks each applies to."""

import subprocess
import sys

import pytest

from inward.tasks.properties import PROPERTIES, applicable, get_property


def test_get_property_and_unknown_names():
    assert get_property("is_even") is PROPERTIES["is_even"]
    assert get_property("is_even").kind == "even_odd"
    with pytest.raises(ValueError, match="unknown property 'nope'.*second_character"):
        get_property("nope")
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


def test_the_registry_reads_no_answers():
    """The registry is below inward.scoring: importing it loads no scoring module."""
    code = ("import sys, inward.tasks.properties as p; print(p.get_property('first_word').kind, "
            "any(m.startswith('inward.scoring') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "word False"
