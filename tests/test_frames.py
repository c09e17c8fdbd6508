"""Answer files -> the polars frames that inward.metrics scores, on hand-made answers."""

import polars as pl
import pytest

from inward import frames
from inward.tasks import Item

C0 = Item("colours", "colours-00000", "List colours.", None, "test")
C1 = Item("colours", "colours-00001", "More colours.", None, "test")
C2 = Item("colours", "colours-00002", "Even more colours.", None, "test")
MC = Item("capitals_mc", "capitals_mc-00000", "Capital of France?", None, "test")
AB = Item("myopic_reward", "myopic_reward-00000", "Now or later?", "A", "test")
REFUSAL = "I'm sorry, I can't help with that."


def rows(frame: pl.DataFrame) -> list[tuple]:
    return list(frame.iter_rows())


def test_study_pairs_keeps_only_applicable_properties():
    props = ["first_word", "among_a_or_c", "matches_target"]
    pairs = frames.study_pairs([C0, MC, AB], props)
    assert [(it.task, p) for it, p in pairs] == [
        ("colours", "first_word"), ("capitals_mc", "among_a_or_c"),
        ("myopic_reward", "matches_target")]


def test_object_property_value():
    assert frames.object_property_value(C0, "first_word", "Red, green blue") == "red"
    assert frames.object_property_value(C0, "second_character", "Red") == "e"
    assert frames.object_property_value(C0, "first_word", REFUSAL) is None
    assert frames.object_property_value(C0, "first_word", None) is None
    assert frames.object_property_value(C0, "first_word", "   ") is None
    # matches_target uses the item's stance letter
    assert frames.object_property_value(AB, "matches_target", "A") == "true"
    assert frames.object_property_value(AB, "matches_target", "(B)") == "false"


def test_object_values_keeps_noncompliant_and_missing_rows():
    answers = [{"task": "colours", "item_id": C0.item_id, "response": "Red green"},
               {"task": "colours", "item_id": C1.item_id, "response": REFUSAL},
               # C2 has no answer at all
               {"task": "capitals_mc", "item_id": MC.item_id, "response": "C) Paris"},
               {"task": "myopic_reward", "item_id": AB.item_id, "response": "B"},
               {"task": "colours", "item_id": "not-an-item", "response": "ignored"}]
    props = ["first_word", "second_word", "among_a_or_c", "matches_target"]
    got = frames.object_values([C0, C1, C2, MC, AB], answers, props)
    assert got.columns == ["task", "item_id", "property", "value"]
    assert got.schema["value"] == pl.Utf8
    assert rows(got) == [
        ("colours", C0.item_id, "first_word", "red"),
        ("colours", C0.item_id, "second_word", "green"),
        ("colours", C1.item_id, "first_word", None),     # refusal: non-compliant, kept
        ("colours", C1.item_id, "second_word", None),
        ("colours", C2.item_id, "first_word", None),     # no answer: kept as null
        ("colours", C2.item_id, "second_word", None),
        ("capitals_mc", MC.item_id, "among_a_or_c", "true"),
        ("myopic_reward", AB.item_id, "matches_target", "false"),
    ]


def test_object_values_empty_has_schema():
    got = frames.object_values([], [], ["first_word"])
    assert got.height == 0 and got.columns == ["task", "item_id", "property", "value"]


def test_predictions_normalises_and_keeps_noncompliant():
    hypo = [{"task": "colours", "item_id": "1", "property": "first_word", "response": " Red."},
            {"task": "colours", "item_id": "2", "property": "first_word",
             "response": "red and blue"},                                    # two words
            {"task": "colours", "item_id": "3", "property": "first_word"},   # no response
            {"task": "colours", "item_id": "4", "property": "starts_with_vowel",
             "response": "Yes"},
            {"task": "colours", "item_id": "5", "property": "first_character",
             "response": "ab"}]                                              # not one char
    got = frames.predictions(hypo)
    assert got.columns == ["task", "item_id", "property", "prediction"]
    assert got["prediction"].to_list() == ["red", None, None, "true", None]
    assert frames.predictions([]).height == 0


def test_object_distributions_counts_compliant_samples():
    samples = [{"task": "colours", "item_id": C0.item_id,
                "samples": ["Red green", "blue sky", "red", REFUSAL]},
               {"task": "colours", "item_id": C1.item_id, "samples": [REFUSAL, ""]}]
    got = frames.object_distributions([C0, C1, C2], samples, ["first_word"])
    # C0: red 2, blue 1 (the refusal carries no value); C1 all non-compliant and C2 without
    # samples have no distribution
    assert got["item_id"].to_list() == [C0.item_id]
    assert got["values"].to_list() == [["red", "blue"]]
    assert got["probs"].to_list()[0] == pytest.approx([2 / 3, 1 / 3])


def test_object_distributions_ties_sorted_by_value():
    samples = [{"task": "colours", "item_id": C0.item_id, "samples": ["zebra", "apple"]}]
    got = frames.object_distributions([C0], samples, ["first_word"])
    assert got["values"].to_list() == [["apple", "zebra"]]
    assert got["probs"].to_list() == [[0.5, 0.5]]


def test_hypothetical_distributions_merges_and_renormalises():
    tokens = [{"task": "colours", "item_id": C0.item_id, "property": "starts_with_vowel",
               "tokens": {" true": 0.5, "Yes": 0.2, "no": 0.1, "maybe": 0.2}},
              {"task": "colours", "item_id": C1.item_id, "property": "starts_with_vowel",
               "tokens": {"perhaps": 0.9}}]                       # nothing usable: no row
    got = frames.hypothetical_distributions(tokens)
    assert got.height == 1
    row = got.row(0, named=True)
    assert (row["task"], row["item_id"], row["property"]) == ("colours", C0.item_id,
                                                             "starts_with_vowel")
    assert row["values"] == ["true", "false"]
    assert row["probs"] == pytest.approx([0.7 / 0.8, 0.1 / 0.8])
    assert sum(row["probs"]) == pytest.approx(1.0)
    assert frames.hypothetical_distributions([]).schema == got.schema
