"""The rule sets by name (inward.scoring.rule_sets) and what every set shares
(inward.scoring.rule_base): the lookup, the degenerate rule, unknown names; the lenient set as
the older reading beside the paper's."""

import subprocess
import sys

import pytest

from inward.scoring.lenient_rules import LENIENT
from inward.scoring.paper_rules import PAPER
from inward.scoring.rule_base import RuleSet, degenerate
from inward.scoring.rule_sets import DEFAULT_RULES, RULE_SETS, get_rule_set


def test_the_registry_names_each_set_once():
    assert dict(RULE_SETS) == {"paper": PAPER, "lenient": LENIENT}
    assert DEFAULT_RULES == "paper"
    assert all(isinstance(r, RuleSet) and r.name == name for name, r in RULE_SETS.items())
    with pytest.raises(TypeError):
        RULE_SETS["strict"] = PAPER  # read-only


def test_get_rule_set_takes_a_name_or_a_rule_set():
    assert get_rule_set("paper") is PAPER
    assert get_rule_set("lenient") is LENIENT
    assert get_rule_set(LENIENT) is LENIENT


@pytest.mark.parametrize("bad", ["strict", "", "Paper", None, ["paper"]])
def test_unknown_rule_set_names_the_key_and_allowed_values(bad):
    with pytest.raises(ValueError, match=r"metrics.rules: unknown rule set .*; allowed: "
                                         r"paper, lenient$"):
        get_rule_set(bad)


@pytest.mark.parametrize("rules", RULE_SETS.values(), ids=RULE_SETS.keys())
def test_unknown_property_is_refused_by_every_set(rules):
    with pytest.raises(ValueError, match="unknown property 'nope'.*allowed"):
        rules.object_value("nope", "colours", "x")
    with pytest.raises(ValueError, match="unknown property 'nope'.*allowed"):
        rules.prediction("nope", "x")


@pytest.mark.parametrize("answer, is_degenerate", [
    ("lionlionlion", True),
    ("lionlionli", True),             # the third copy cut short after two characters
    ("lionlionl", False),
    ("hahaha", True),
    ("lion lion lion", True),
    ("LionLionLion!", True),
    ("bonbon", False),
    ("mississippi", False),
    ("banana", False),
    ("aaa", False),                   # units of one character do not count
    ("r", False),
    (None, False),
])
def test_degenerate(answer, is_degenerate):
    assert degenerate(answer) is is_degenerate


@pytest.mark.parametrize("rules", RULE_SETS.values(), ids=RULE_SETS.keys())
def test_degenerate_answers_are_noncompliant_for_every_kind(rules):
    assert rules.prediction("first_word", "lionlionlion") is None
    assert rules.prediction("first_word", "lion") == "lion"
    assert rules.prediction("identity", "redredred") is None
    assert rules.prediction("starts_with_vowel", "truetruetrue") is None
    assert not rules.hypothetical_compliant("identity", "redredred")


def test_lenient_rules_keep_the_older_reading():
    assert LENIENT.object_value("among_a_or_c", "capitals_mc", "The answer is C.") == "true"
    assert PAPER.object_value("among_a_or_c", "capitals_mc", "The answer is C.") is None
    assert LENIENT.object_compliant("capitals_mc", "B) Lima")
    assert not PAPER.object_compliant("capitals_mc", "B) Lima")
    assert LENIENT.prediction("starts_with_vowel", "Yes") == "true"
    assert PAPER.prediction("starts_with_vowel", "Yes") is None
    assert LENIENT.object_value("second_character", "colours", "I went") is None
    assert PAPER.object_value("second_character", "colours", "I went") == ""
    assert LENIENT.object_value("first_word", "colours", "Dog, cat") == "dog"


@pytest.mark.parametrize("first", ["inward.scoring.paper_rules", "inward.scoring.lenient_rules",
                                   "inward.scoring.rule_base", "inward.scoring.rule_sets"])
def test_each_module_imports_on_its_own(first):
    """No module of the rule sets needs another imported before it (no import cycle)."""
    code = f"import {first}, inward.scoring.rule_sets as r; print(sorted(r.RULE_SETS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['lenient', 'paper']"
