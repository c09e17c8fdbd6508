"""The transcript table and its page on the hand-made study (tests/support/hand_study.py): the
rows hold what was sent and read, the metrics recompute from the table alone, and the page
escapes answers, filters and opens an item in headless Chromium."""

import json
import re

import polars as pl
import pytest

from hand_study import HYPO, ITEMS, OBJECT, P, write_study
from inward.config.types import CalibrationConfig
from inward.records.jsonl import read_jsonl, write_jsonl
from inward.reporting.transcript_page import embedded_json, write_page
from inward.reporting.transcripts import answer_files, transcript_table, write_transcripts
from inward.scoring.evaluation import evaluate_study
from inward.study import layout
from inward.tasks.prompts import hypothetical_chat, object_chat
from transcript_support import Page, chromium, differences

MODELS = ["m1", "m2"]
HOSTILE = '</script><script>window.__pwned = 1</script><b>bold</b> & "quoted" <!--'


@pytest.fixture
def study(tmp_path, monkeypatch):
    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)  # layout paths are relative to the study repo
    return tmp_path


def table(demonstration=False):
    return transcript_table(models=MODELS, test_items=layout.items_path("test"), props=[P],
                            demonstration=demonstration)


def metrics():
    return evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=[P],
                          calib=CalibrationConfig(n_samples=4, temperature=1.0, n_bins=2,
                                                  top_k=3),
                          n_boot=20, seed=0, metrics_path=layout.METRICS,
                          tables_dir=layout.TABLES)


def test_one_row_per_role_item_and_property_with_what_was_sent_and_read(study):
    t = table(demonstration=True)
    # per target: untrained, self, one cross predictor and the shift; three items, one property
    assert t.height == 2 * 4 * 3
    assert t.group_by("target_model", "role").len().sort("target_model", "role").rows() == [
        ("m1", "cross:m2", 3), ("m1", "self", 3), ("m1", "shift", 3), ("m1", "untrained", 3),
        ("m2", "cross:m1", 3), ("m2", "self", 3), ("m2", "shift", 3), ("m2", "untrained", 3)]
    cross = t.filter(pl.col("role") == "cross:m2").sort("item_id")
    assert cross["agent"].unique().to_list() == ["m2__cross__m1"]
    assert cross["target_agent"].unique().to_list() == ["m1__self"]
    assert cross["object_response"].to_list() == OBJECT["m1__self"]
    assert cross["hypothetical_response"].to_list() == HYPO["m2__cross__m1"]
    assert cross["target_value"].to_list() == ["red", "red", "green"]
    assert cross["prediction"].to_list() == ["red", "blue", "blue"]
    assert cross["correct"].to_list() == [True, False, False]
    assert json.loads(cross["object_messages"][0]) == object_chat(ITEMS[0], True)
    assert json.loads(cross["hypothetical_messages"][0]) == hypothetical_chat(ITEMS[0], P)
    assert len(json.loads(cross["object_messages"][0])) == 3  # the worked exchange was sent
    # m1 refused item 2: not compliant, no value, not scored
    untrained = t.filter(pl.col("role") == "untrained", pl.col("target_model") == "m1")
    assert untrained["object_compliant"].to_list() == [True, True, False]
    assert untrained["scored"].to_list() == [True, True, False]
    # the shift: old = m1__self's value, new = m1__shift's; items 0 and 2 changed
    shift = t.filter(pl.col("role") == "shift", pl.col("target_model") == "m1").sort("item_id")
    assert shift["old_agent"].unique().to_list() == ["m1__self"]
    assert shift["old_value"].to_list() == ["red", "red", "green"]
    assert shift["new_value"].to_list() == ["blue", "red", "red"]
    assert shift["changed"].to_list() == [True, False, True]
    assert shift["prediction"].to_list() == ["blue", "red", "red"]  # "Blue." read as blue
    assert shift["correct"].to_list() == [True, True, True]
    assert shift["correct_old"].to_list() == [False, True, False]
    assert t.filter(pl.col("role") != "shift")["changed"].null_count() == t.height - 6


def test_the_answer_files_read_are_the_rules_inputs(study):
    files = answer_files(MODELS)
    assert layout.object_path("m1__shift", "test") in files
    assert layout.hypo_path("m2__cross__m1") in files
    assert layout.object_path("m2__cross__m1", "test") not in files  # never asked
    assert all((study / f).is_file() for f in files)


def test_metrics_recompute_from_the_table_alone(study):
    """accuracy and n, both policies, for every role and the shift's new/old: equal to
    evaluate_study's to 1e-9 (the hand study, then with mode-of-n drops at both levels)."""
    assert differences(table(), metrics()) == []
    # a hosted model's mode of n left an object answer and a hypothetical answer without one
    for path, index in ((layout.object_path("m1__self", "test"), 0),
                        (layout.hypo_path("m2__cross__m1"), 1)):
        rows = read_jsonl(path)
        rows[index] |= {"response": None, "dropped": "mode_of_n"}
        write_jsonl(rows, path)
    t, m = table(), metrics()
    assert m["targets"]["m1"]["self"]["n"] == 2 and m["targets"]["m1"]["cross"]["m2"]["n"] == 1
    assert differences(t, m) == []
    dropped = t.filter(pl.col("object_dropped") | pl.col("hypothetical_dropped"))
    assert dropped.height > 0 and not dropped["scored"].any()


def test_table_files_and_a_page_that_escapes_every_answer(study):
    rows = read_jsonl(layout.hypo_path("m1__self"))
    rows[2]["response"] = HOSTILE
    write_jsonl(rows, layout.hypo_path("m1__self"))
    t = table()
    write_transcripts(t, layout.TRANSCRIPTS, layout.TRANSCRIPTS_CSV)
    assert pl.read_parquet(layout.TRANSCRIPTS).equals(t)
    assert pl.read_csv(layout.TRANSCRIPTS_CSV).height == t.height
    write_page(t, layout.TRANSCRIPTS_PAGE, "Transcripts <of> m1 & m2")
    page = (study / layout.TRANSCRIPTS_PAGE).read_text()
    assert "<title>Transcripts &lt;of&gt; m1 &amp; m2</title>" in page
    assert page.count("</script>") == 2  # the data element's and the script's, nothing else
    assert "<b>bold</b>" not in page and "<!--" not in page
    assert not re.search(r"https?://", page)  # nothing fetched: works offline
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert any(HOSTILE in r for r in json.loads(data.group(1))["rows"])  # intact
    assert json.loads(embedded_json({"a": HOSTILE + "\u2028"})) == {"a": HOSTILE + "\u2028"}


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_the_page_filters_and_opens_an_item_in_chromium(study, browser):
    rows = read_jsonl(layout.hypo_path("m1__self"))
    rows[2]["response"] = HOSTILE
    write_jsonl(rows, layout.hypo_path("m1__self"))
    t = table()
    write_page(t, layout.TRANSCRIPTS_PAGE, "Transcripts")
    page = Page(browser, study / layout.TRANSCRIPTS_PAGE)
    assert page.count() == f"{t.height} of {t.height} rows"
    page.choose("f-agent", "m1__shift")
    page.choose("f-changed", "yes")
    shown = page.rows()
    assert page.count() == f"2 of {t.height} rows"
    assert [r[4] for r in shown] == [ITEMS[0].item_id, ITEMS[2].item_id]
    assert all(r[2] == "m1__shift" and "(changed)" in r[11] for r in shown)
    page.choose("f-changed", "")
    page.choose("f-agent", "")
    page.choose("f-correct", "no")
    wrong = t.filter(pl.col("scored") & ~pl.col("correct"))
    assert page.count() == f"{wrong.height} of {t.height} rows"
    page.choose("f-correct", "")
    page.choose("f-agent", "m1__self")
    row = [r for r in page.rows() if r[4] == ITEMS[2].item_id][0]
    assert row[8] == HOSTILE  # shown as text, not run or parsed
    assert browser.execute_script("return window.__pwned === undefined")
    assert not page.find_all("#rows tbody b")
    # the item's chats and every agent of the m1 comparison side by side
    page.open_item([r[4] for r in page.rows()].index(ITEMS[2].item_id))
    detail = page.find("#detail")
    assert detail.is_displayed()
    assert ITEMS[2].prompt in detail.text and "Earlier you were sent" in detail.text
    cards = page.cards(P)
    assert set(cards) == {"untrained", "self", "cross:m2", "shift"}
    assert HOSTILE in cards["self"]
    assert HYPO["m2__cross__m1"][2] in cards["cross:m2"]
    assert OBJECT["m1__shift"][2] in cards["shift"] and OBJECT["m1__self"][2] in cards["shift"]
    assert "green \u2192 red" in cards["shift"]
    page.find("#close").click()
    assert not detail.is_displayed()


def test_cross_scaling_predictors_are_rows_of_their_comparison(study):
    """With ``cross.scaling``, M2__cross__M1@share predicts M1__self like the full cross
    predictor: role ``cross:M2@share``, read from its own hypothetical answers."""
    for agent, answers in (("m2__cross__m1@0.5", ["red", "red", "green"]),  # all right
                           ("m1__cross__m2@0.5", ["green", "green", "green"])):
        write_jsonl([{"task": it.task, "item_id": it.item_id, "property": P, "response": r}
                     for it, r in zip(ITEMS, answers, strict=True)], layout.hypo_path(agent))
    assert layout.hypo_path("m2__cross__m1@0.5") in answer_files(MODELS, scaling=[0.5])
    t = transcript_table(models=MODELS, test_items=layout.items_path("test"), props=[P],
                         demonstration=False, scaling=[0.5])
    scaled = t.filter(pl.col("role") == "cross:m2@0.5")
    assert scaled["agent"].unique().to_list() == ["m2__cross__m1@0.5"]
    assert scaled["target_agent"].unique().to_list() == ["m1__self"]
    assert scaled["correct"].to_list() == [True, True, True]
    assert t.height == table().height + 2 * 3  # and m1__cross__m2@0.5 for target m2
