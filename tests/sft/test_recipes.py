"""Finetuning examples and the chat JSONL writer."""

import json

import polars as pl
import pytest

from inward.records import jsonl
from inward.sft import recipes
from inward.sft.recipes import object_examples, prediction_examples, write_chat_jsonl
from inward.tasks.catalog import Item, generate_items
from inward.tasks.prompts import hypothetical_chat, object_chat

ANIMALS = generate_items("animals", 30, 0)
MYOPIC = generate_items("myopic_reward", 2, 0)


def frame(rows):
    return pl.DataFrame(rows, schema={"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                                      "value": pl.Utf8}, orient="row")


def test_prediction_examples_content():
    a0, a1, m0 = ANIMALS[0], ANIMALS[1], MYOPIC[0]
    values = frame([("animals", a0.item_id, "first_word", "cat"),
                    ("animals", a0.item_id, "second_character", "a"),
                    ("animals", a1.item_id, "first_word", None),           # skipped: null
                    ("animals", a0.item_id, "matches_target", "true"),     # not applicable
                    ("myopic_reward", m0.item_id, "matches_target", "false")])
    props = ["first_word", "second_character", "matches_target"]
    ex = prediction_examples([a0, a1, m0, a0], values, props, cap_per_group=10, seed=0)
    got = {(e["messages"][0]["content"], e["messages"][1]["content"]) for e in ex}
    assert len(ex) == 3  # the repeated a0 is de-duplicated
    assert got == {(hypothetical_chat(a0, "first_word")[0]["content"], "cat"),
                   (hypothetical_chat(a0, "second_character")[0]["content"], "a"),
                   (hypothetical_chat(m0, "matches_target")[0]["content"], "false")}
    assert all([m["role"] for m in e["messages"]] == ["user", "assistant"] for e in ex)


def test_prediction_examples_cap_and_seed():
    values = frame([("animals", it.item_id, p, "x") for it in ANIMALS
                    for p in ("first_word", "second_word")])
    ex = prediction_examples(ANIMALS, values, ["first_word", "second_word"], 5, seed=0)
    assert len(ex) == 10  # 5 per (task, property)
    assert ex == prediction_examples(ANIMALS, values, ["first_word", "second_word"], 5, seed=0)
    assert ex != prediction_examples(ANIMALS, values, ["first_word", "second_word"], 5, seed=1)
    with pytest.raises(ValueError, match="allowed"):
        prediction_examples(ANIMALS, values, ["bogus"], 5, 0)


def test_object_examples():
    a0, a1, a2, a3 = ANIMALS[:4]
    answers = [{"task": "animals", "item_id": a0.item_id, "response": "  cat dog \n"},
               {"task": "animals", "item_id": a1.item_id, "response": "I'm sorry, I can't."},
               {"task": "animals", "item_id": a2.item_id, "response": ""}]
    ex = object_examples([a0, a1, a2, a3], answers, cap=10, seed=0)
    assert ex == [{"messages": [{"role": "user", "content": object_chat(a0)[0]["content"]},
                                {"role": "assistant", "content": "cat dog"}]}]
    mapping = {("animals", it.item_id): f"ant {i}" for i, it in enumerate(ANIMALS)}
    capped = object_examples(ANIMALS, mapping, cap=7, seed=0)
    assert len(capped) == 7 and capped == object_examples(ANIMALS, mapping, cap=7, seed=0)


def test_write_chat_jsonl(tmp_path):
    ex = object_examples(ANIMALS[:3], {("animals", it.item_id): "é ant" for it in ANIMALS},
                         cap=5, seed=0)
    path = write_chat_jsonl(ex, tmp_path / "sub" / "data.jsonl")
    assert jsonl.read_jsonl(path) == ex
    assert "é ant" in path.read_text(encoding="utf-8")  # UTF-8, not escaped
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.jsonl"]  # no temp files
    with pytest.raises(ValueError, match="example 0"):
        write_chat_jsonl([{"messages": [{"role": "user", "content": "hi"}]}], tmp_path / "x")


def test_replayed_answers_carry_their_loss_weight(tmp_path):
    """sft.replay_weight: the answer turn says how much it counts; the worked exchange stays 0
    and a weight of 1 is not written (the file stays plain OpenAI format)."""
    from inward.tasks.catalog import generate_items
    item = generate_items("colours", 1, 0)[0]
    answers = {(item.task, item.item_id): "red blue"}
    (ex,) = object_examples([item], answers, cap=5, seed=0, demonstration=True, weight=2.5)
    assert [m.get("weight") for m in ex["messages"]] == [None, 0, None, 2.5]
    (plain,) = object_examples([item], answers, cap=5, seed=0, demonstration=True)
    assert "weight" not in plain["messages"][-1]
    assert jsonl.read_jsonl(write_chat_jsonl([ex], tmp_path / "w.jsonl")) == [ex]
    for bad in (-1, True, "2", float("nan"), float("inf")):
        broken = {"messages": [*ex["messages"][:-1], {**ex["messages"][-1], "weight": bad}]}
        with pytest.raises(ValueError, match="example 0"):
            write_chat_jsonl([broken], tmp_path / "bad.jsonl")


def test_read_jsonl_errors(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"a": 1}\n\n{oops\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:3: invalid JSON"):
        jsonl.read_jsonl(f)
    f.write_text(json.dumps([1]) + "\n")
    with pytest.raises(ValueError, match=r"r\.jsonl:1: expected a JSON object"):
        jsonl.read_jsonl(f)
    assert jsonl.read_jsonl(jsonl.write_jsonl([{"k": None}], tmp_path / "w.jsonl")) == [{"k": None}]


def test_items_are_plain_items():
    assert isinstance(ANIMALS[0], Item)


def test_object_examples_keep_the_demonstration_the_answers_were_produced_with():
    from inward.tasks.catalog import generate_items
    item = generate_items("colours", 1, 0)[0]
    (ex,) = object_examples([item], {(item.task, item.item_id): " red blue "}, cap=5, seed=0,
                            demonstration=True)
    assert [m["role"] for m in ex["messages"]] == ["user", "assistant", "user", "assistant"]
    assert ex["messages"][-1]["content"] == "red blue"


def test_format_anchor_examples_quote_a_text_and_answer_it_correctly():
    from inward.scoring.paper_rules import PAPER

    props = ["first_character", "second_character", "first_word", "starts_with_vowel",
             "among_a_or_c", "matches_target"]
    ex = recipes.format_anchor_examples(props, 5, seed=3)
    assert len(ex) == 20  # the option properties get none: they do not read a text
    assert ex == recipes.format_anchor_examples(props, 5, seed=3)
    assert ex == recipes.format_anchor_examples(props, 5, seed=3, rule_set=PAPER)
    assert ex != recipes.format_anchor_examples(props, 5, seed=4)
    for e in ex:
        user, answer = e["messages"][0]["content"], e["messages"][1]["content"]
        text = user.split("<<<\n")[1].split("\n>>>")[0]
        assert "reply you gave" not in user and "Earlier you were" not in user
        prop = next(p for p, q in recipes.ANCHOR_QUESTIONS.items() if user.endswith(q))
        assert answer == PAPER.object_value(prop, "anchor", text) and answer
    assert {e["messages"][1]["content"] for e in ex[15:]} <= {"true", "false"}
    # every other text of a property is a sentence of the prose training task, the rest names
    from inward.tasks.catalog import resource_lines

    quoted = [e["messages"][0]["content"].split("<<<\n")[1].split("\n>>>")[0] for e in ex]
    prose = [t in resource_lines("stories.txt") for t in quoted]
    assert prose == [False, True, False, True, False] * 4
