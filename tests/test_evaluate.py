"""evaluate_study on a hand-made study layout (two models, three held-out items, one property)
whose every number is worked out by hand in the comments."""

import json
from pathlib import Path

import polars as pl
import pytest

from inward import layout
from inward.evaluate import _per_group_metrics, _shift_block, evaluate_study
from inward.io import write_jsonl
from inward.tasks import Item

P = "first_word"
ITEMS = [Item("colours", f"colours-0000{i}", f"Colours prompt {i}", None, "test")
         for i in range(3)]
REFUSAL = "I'm sorry, I can't help with that."
CALIB = {"n_bins": 2, "top_k": 3}

# object-level answers on the held-out items (first words in the comments)
OBJECT = {
    "m1": ["red green", "Blue red", REFUSAL],             # red, blue, - (non-compliant)
    "m1__self": ["red green", "red blue", "green red"],   # red, red, green
    "m1__shift": ["blue x", "red blue", "red y"],         # blue, red, red: items 0, 2 changed
    "m2": ["green", "green", "green"],
    "m2__self": ["green", "blue", "green"],
    "m2__shift": ["green", "blue", "blue"],               # item 2 changed (green -> blue)
}
# hypothetical answers (the first word each agent predicts)
HYPO = {
    "m1": ["red", "red", "blue"],                 # right, wrong, excluded -> 1/2
    "m1__self": ["red", "red", "two words"],      # right, right, non-compliant -> 2/3
    "m2__cross__m1": ["red", "blue", "blue"],     # vs m1__self: right, wrong, wrong -> 1/3
    "m1__shift": ["Blue.", "red", "red"],         # changed rows 0, 2 both match the new one
    "m2": ["green", "green", "green"],            # 3/3
    "m2__self": ["green", "green", "green"],      # vs green, blue, green -> 2/3
    "m1__cross__m2": ["green", "blue", "green"],  # 3/3
    "m2__shift": ["green", "blue", "green"],      # changed row 2 matches the old one
}
# sampled object-level answers (item index -> samples) and first-token distributions
SAMPLES = {
    "m1": {0: ["red a", "red b", "blue c", REFUSAL]},  # red 2/3, blue 1/3
    "m1__self": {0: ["red", "red"]},                    # red 1
    "m2": {}, "m2__self": {},                           # nothing: MAD undefined
}
TOKENS = {
    "m1": {0: {"red": 0.5, "blue": 0.5}},
    "m1__self": {0: {"red": 0.8, "green": 0.2}},
    "m2__cross__m1": {0: {"green": 1.0}},
    "m2": {}, "m2__self": {}, "m1__cross__m2": {},
}


def write_study(root: Path) -> None:
    """Every answer file evaluate_study reads, under ``root`` (paths from inward.layout)."""
    write_jsonl([it.to_dict() for it in ITEMS], root / layout.items_path("test"))
    for agent, responses in OBJECT.items():
        write_jsonl([{"task": it.task, "item_id": it.item_id, "response": r}
                     for it, r in zip(ITEMS, responses, strict=True)],
                    root / layout.object_path(agent, "test"))
    for agent, responses in HYPO.items():
        write_jsonl([{"task": it.task, "item_id": it.item_id, "property": P, "response": r}
                     for it, r in zip(ITEMS, responses, strict=True)],
                    root / layout.hypo_path(agent))
    for agent, per_item in SAMPLES.items():
        write_jsonl([{"task": ITEMS[i].task, "item_id": ITEMS[i].item_id, "samples": s}
                     for i, s in per_item.items()], root / layout.object_dist_path(agent))
    for agent, per_item in TOKENS.items():
        write_jsonl([{"task": ITEMS[i].task, "item_id": ITEMS[i].item_id, "property": P,
                      "tokens": d} for i, d in per_item.items()],
                    root / layout.hypo_dist_path(agent))


def run(models):
    return evaluate_study(models=models, test_items=layout.items_path("test"), props=[P],
                          calib=CALIB, n_boot=200, seed=0, metrics_path=layout.METRICS,
                          tables_dir=layout.TABLES)


@pytest.fixture
def study(tmp_path, monkeypatch):
    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)  # layout paths are relative to the study repo
    return tmp_path


def test_accuracies_baseline_and_compliance(study):
    m1 = run(["m1", "m2"])["targets"]["m1"]
    un, se, cr = m1["untrained"], m1["self"], m1["cross"]["m2"]
    assert un["accuracy"] == 0.5                       # item 2's target is non-compliant
    assert (un["n"], un["n_excluded"], un["n_noncompliant"]) == (2, 1, 0)
    assert un["compliance"] == 1.0
    assert se["accuracy"] == pytest.approx(2 / 3)
    assert (se["n"], se["n_excluded"], se["n_noncompliant"]) == (3, 0, 1)
    assert se["compliance"] == pytest.approx(2 / 3)    # "two words" counted, not dropped
    assert cr["accuracy"] == pytest.approx(1 / 3) and cr["n"] == 3 and cr["compliance"] == 1.0
    for acc in (un, se, cr):
        assert acc["ci_low"] <= acc["accuracy"] <= acc["ci_high"]
    # mode of m1__self (red, red, green) = red -> 2/3; of m1 (red, blue, -): tie -> blue -> 1/2
    assert m1["baseline"]["accuracy"] == pytest.approx(2 / 3) and m1["baseline"]["n"] == 3
    assert m1["baseline_untrained"]["accuracy"] == 0.5
    assert m1["baseline_untrained"]["n"] == 2
    assert m1["object_compliance"] == {"untrained": pytest.approx(2 / 3), "self": 1.0}


def test_self_vs_cross_calibration_and_shift(study):
    out = run(["m1", "m2"])
    m1, m2 = out["targets"]["m1"], out["targets"]["m2"]
    # self right on 0, 1; cross right on 0 only: diff 1/3, one discordant row -> p = 1
    t = m1["self_vs_cross"]["m2"]
    assert t["diff"] == pytest.approx(1 / 3) and t["p_value"] == 1.0
    assert (t["n"], t["n_only_a"], t["n_only_b"]) == (3, 1, 0)
    assert "method" not in t                           # numbers only in the metrics file
    assert m2["self_vs_cross"]["m1"]["diff"] == pytest.approx(-1 / 3)
    # untrained: pairs (obj 2/3, hyp 1/2), (1/3, 1/2) in two bins -> 100 * 1/6;
    # self: (1, 0.8) -> 20; cross: red has hypothetical probability 0 -> 100
    cal = m1["calibration_mad"]
    assert cal["untrained"] == pytest.approx(100 / 6)
    assert cal["self"] == pytest.approx(20.0)
    assert cal["cross"] == {"m2": pytest.approx(100.0)}
    assert m2["calibration_mad"] == {"untrained": None, "self": None, "cross": {"m1": None}}
    # shift: changed rows 0 (red -> blue) and 2 (green -> red); both predictions match new
    sh = m1["shift"]
    assert sh["new"]["accuracy"] == 1.0 and sh["old"]["accuracy"] == 0.0
    assert sh["n_changed"] == 2 and sh["new"]["n"] == sh["old"]["n"] == 2
    assert sh["p_value"] == 0.5 and sh["n_noncompliant"] == 0   # 2 * (1/2)^2
    sh2 = m2["shift"]
    assert (sh2["new"]["accuracy"], sh2["old"]["accuracy"], sh2["n_changed"]) == (0.0, 1.0, 1)


def test_metrics_file_and_tables(study):
    out = run(["m1", "m2"])
    assert json.loads((study / layout.METRICS).read_text()) == out
    assert out["per_group"]["m1"] == {
        "untrained": {"colours/first_word": 0.5},
        "self": {"colours/first_word": pytest.approx(2 / 3)},
        "cross:m2": {"colours/first_word": pytest.approx(1 / 3)}}
    tables = study / layout.TABLES
    items = pl.read_parquet(tables / "items.parquet")
    assert items.height == 2 * 3 * 3                   # 2 targets x 3 roles x 3 items
    assert pl.read_csv(tables / "items.csv").height == items.height
    un = items.filter((pl.col("target") == "m1") & (pl.col("role") == "untrained"))
    assert un["predictor"].unique().to_list() == ["m1"]
    assert un["target_value"].to_list() == ["red", "blue", None]
    assert un["prediction"].to_list() == ["red", "red", "blue"]
    assert un["correct"].to_list() == [True, False, False]
    se = items.filter((pl.col("target") == "m1") & (pl.col("role") == "self"))
    assert se["prediction"].to_list() == ["red", "red", None]
    assert se["correct"].to_list() == [True, True, False]
    groups = pl.read_csv(tables / "by_task_property.csv")
    assert groups.height == 6
    assert set(groups["role"]) == {"untrained", "self", "cross:m1", "cross:m2"}
    bins = pl.read_csv(tables / "calibration_bins.csv")
    assert bins.columns == ["target", "role", "hypo_mean", "object_mean", "n"]
    assert bins["role"].to_list() == ["untrained", "untrained", "self", "cross:m2"]
    assert bins["object_mean"].to_list() == pytest.approx([2 / 3, 1 / 3, 1.0, 1.0])
    assert bins["hypo_mean"].to_list() == pytest.approx([0.5, 0.5, 0.8, 0.0])


def test_single_model_has_no_cross_or_shift(study):
    out = run(["m1"])
    m1 = out["targets"]["m1"]
    assert list(out["targets"]) == ["m1"]
    assert "cross" not in m1 and "shift" not in m1 and m1["self_vs_cross"] == {}
    assert m1["calibration_mad"] == {"untrained": pytest.approx(100 / 6),
                                     "self": pytest.approx(20.0)}
    assert m1["self"]["accuracy"] == pytest.approx(2 / 3)  # same numbers as with two models


def test_no_calibration_pairs_still_writes_bins_header(study):
    for agent in ("m1", "m1__self"):  # no object-level samples at all
        write_jsonl([], study / layout.object_dist_path(agent))
    out = run(["m1"])
    assert out["targets"]["m1"]["calibration_mad"] == {"untrained": None, "self": None}
    bins = pl.read_csv(study / layout.TABLES / "calibration_bins.csv")
    assert bins.height == 0
    assert bins.columns == ["target", "role", "hypo_mean", "object_mean", "n"]


def test_shift_block_reshapes_shift_accuracy():
    raw = {"n": 4, "n_noncompliant": 1, "accuracy_new": 0.75, "ci_low_new": 0.5,
           "ci_high_new": 1.0, "accuracy_old": 0.25, "ci_low_old": 0.0, "ci_high_old": 0.5,
           "p_value": 0.625, "method": "x"}
    assert _shift_block(raw) == {
        "new": {"accuracy": 0.75, "ci_low": 0.5, "ci_high": 1.0, "n": 4},
        "old": {"accuracy": 0.25, "ci_low": 0.0, "ci_high": 0.5, "n": 4},
        "p_value": 0.625, "n_changed": 4, "n_noncompliant": 1}


def test_per_group_metrics():
    groups = pl.DataFrame({"target": ["a", "a", "b"], "role": ["self", "self", "untrained"],
                           "task": ["t", "u", "t"], "property": ["p", "p", "q"],
                           "accuracy": [0.5, None, 1.0]})
    assert _per_group_metrics(groups) == {"a": {"self": {"t/p": 0.5, "u/p": None}},
                                          "b": {"untrained": {"t/q": 1.0}}}
