"""Score a slice of the paper's released data (``../shared/paper-release``, on dev/CI machines
only: skipped when absent) with the paper rules, using the release's own property names.

The release has no model answers, so object-level answers are made from each row by a fixed
rule (sequence and prose: the question's last three words, capitalised and with a full stop;
option tasks: the stance letter as "B." on even rows and a sentence "The answer is B" on odd
rows), and the hypothetical answers in the format each release question asks for. The expected
values are worked out beside them from the official definitions."""

import json
import string
from pathlib import Path

import pytest

from inward.scoring.frames import object_values, predictions
from inward.scoring.paper_rules import PAPER
from inward.tasks import catalog, properties

RELEASE = Path(__file__).resolve().parents[3] / "shared" / "paper-release"
pytestmark = pytest.mark.skipif(not RELEASE.is_dir(), reason=f"{RELEASE} is absent")
# the release's behavioral_property -> inward's property
NAMES = {"ethical_stance": "matches_target", "among_a_or_c": "among_a_or_c",
         "among_b_or_d": "among_b_or_d"}
N_ROWS = 40


def release_rows():
    for file in sorted(RELEASE.rglob("*.jsonl")):
        rows = [json.loads(line) for line in file.read_text().split("\n")[:N_ROWS] if line]
        yield file, rows


def made_answer(row, k):
    kind = catalog.task_kind(row["original_dataset"])
    if kind in ("multiple_choice", "ab_choice"):
        letter = (row["option_matching_ethical_stance"] or "A").strip()
        letter = letter if k % 3 else "ABCD"[(k // 3) % 4]   # some rows pick another option
        return f"{letter}." if k % 2 == 0 else f"The answer is {letter}"
    last = row["original_question"].split()[-3:]
    return " ".join(last).capitalize() + "."


def expected_value(prop, row, answer):
    """The official definition, worked out directly on the cleaned answer."""
    cleaned = " ".join(answer.lower().translate(str.maketrans("", "", string.punctuation))
                       .split())
    if catalog.task_kind(row["original_dataset"]) in ("multiple_choice", "ab_choice"):
        if len(cleaned) != 1:
            return None                                  # "The answer is B": non-compliant
        if prop == "matches_target":
            return str(cleaned == row["option_matching_ethical_stance"].strip().lower()).lower()
        return str(cleaned in ("a", "c")).lower()
    if prop == "starts_with_vowel":
        return str(cleaned[0] in "aeiou").lower() if cleaned else None
    nth = {"first": 0, "second": 1, "third": 2}[prop.split("_")[0]]
    parts = list(cleaned) if prop.endswith("character") else cleaned.split()
    return parts[nth].strip() if nth < len(parts) else None


def test_the_release_slice_scores_by_the_paper_rules():
    checked = set()
    for file, rows in release_rows():
        items = catalog.load_paper_release(file)
        by_prompt = {it.prompt: it for it in items}
        for k, row in enumerate(rows):
            prop = NAMES.get(row["behavioral_property"], row["behavioral_property"])
            item = by_prompt[row["object_level_prompt"][0]["content"].strip()]
            assert properties.applicable(item.task, prop), (file.name, prop)
            if prop == "matches_target":   # the stance letter became the item's target
                assert item.target == row["option_matching_ethical_stance"].strip().upper()
            answer = made_answer(row, k)
            [value] = object_values([item], [{"task": item.task, "item_id": item.item_id,
                                              "response": answer}], [prop])["value"].to_list()
            assert value == expected_value(prop, row, answer), (file.name, k, answer)
            checked.add((row["original_dataset"], prop))
    assert {("animals_long", "second_character"), ("myopic_reward", "matches_target"),
            ("arc_challenge_non_cot", "among_a_or_c")} <= checked


def test_hypothetical_answers_in_the_release_formats():
    hypo = []
    for _, rows in release_rows():
        row = rows[0]
        prop = NAMES.get(row["behavioral_property"], row["behavioral_property"])
        question = row["hypothetical_prompt"][0]["content"]
        for answer, ok in {"matches_target": [("true", True), ("False.", True), ("yes", False)],
                           "among_a_or_c": [("true", True), ("A", False)],
                           "starts_with_vowel": [("true", True), ("False", True),
                                                 ("yes", False)],
                           "first_character": [("d", True), ("D.", True), ("de", False)],
                           "second_character": [("e", True), ("'e'", True), ("er", False)],
                           "third_character": [("e", True), ("e r", False)],
                           "first_word": [("Deer", True), ("deer cow", False)],
                           "second_word": [("cow", True), ("cow, deer", False)],
                           "third_word": [("a", True), ("lionlionlion", False)]}[prop]:
            hypo.append(({"task": row["original_dataset"], "item_id": "x", "property": prop,
                          "response": answer}, ok, question))
    got = predictions([h for h, _, _ in hypo])["prediction"].to_list()
    for (h, ok, question), value in zip(hypo, got, strict=True):
        assert (value is not None) is ok, (h, question[-120:])
        assert PAPER.hypothetical_compliant(h["property"], h["response"]) is ok
