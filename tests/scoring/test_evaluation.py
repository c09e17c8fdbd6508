"""evaluate_study on a hand-made study layout (two models, three held-out items, one property)
whose every number is worked out by hand in the comments (paper rules)."""

import json

import polars as pl
import pytest

from hand_study import CALIB, HYPO, HYPO_SAMPLES, ITEMS, OBJECT, REFUSAL, SAMPLES, P, write_study  # noqa: F401
from inward.config.types import CalibrationConfig
from inward.records.jsonl import write_jsonl
from inward.scoring.evaluation import (
    _per_group_metrics,
    evaluate_study,
    group_table,
    top_letter_shares,
)
from inward.scoring.lenient_rules import LENIENT
from inward.study import layout

# the hand study's bins and top-k (n_samples and temperature are not read by the scoring)
CALIBRATION = CalibrationConfig(n_samples=4, temperature=1.0, **CALIB)


def run(models):
    return evaluate_study(models=models, test_items=layout.items_path("test"), props=[P],
                          calib=CALIBRATION, n_boot=200, seed=0, metrics_path=layout.METRICS,
                          tables_dir=layout.TABLES)


@pytest.fixture
def study(tmp_path, monkeypatch):
    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)  # layout paths are relative to the study repo
    return tmp_path


def test_accuracies_baselines_and_compliance(study):
    m1 = run(["m1", "m2"])["targets"]["m1"]
    un, se, cr = m1["untrained"], m1["self"], m1["cross"]["m2"]
    assert (un["accuracy"], un["n"]) == (0.5, 2)       # item 2's object answer: not scored
    assert (un["accuracy_compliant"], un["n_compliant"], un["compliance"]) == (0.5, 2, 1.0)
    # self: keep-all 2/3 (the two-word answer counts wrong); compliant rows 0, 1: 2/2
    assert (se["accuracy"], se["n"]) == (pytest.approx(2 / 3), 3)
    assert (se["accuracy_compliant"], se["n_compliant"]) == (1.0, 2)
    assert se["compliance"] == pytest.approx(2 / 3)
    assert (cr["accuracy"], cr["n"], cr["accuracy_compliant"]) == (pytest.approx(1 / 3), 3,
                                                                   pytest.approx(1 / 3))
    for acc in (un, se, cr):
        assert acc["ci_low"] <= acc["accuracy"] <= acc["ci_high"]
        assert acc["n_items"] == acc["n"]                # one property: one row per item
    # mode baselines on the same rows: self keep-all (red, red, green) -> 2/3; self compliant
    # rows (red, red) -> 1; cross compliant = all three rows -> 2/3; untrained (red, blue):
    # tie -> blue -> 1/2
    assert se["baseline"] == pytest.approx(2 / 3) and se["baseline_compliant"] == 1.0
    assert cr["baseline"] == pytest.approx(2 / 3)
    assert cr["baseline_compliant"] == pytest.approx(2 / 3)
    assert un["baseline"] == 0.5
    # M1's behaviour kept by self-training: rows 0, 1 both defined, row 0 the same -> 1/2;
    # over all rows (row 2 undefined before, defined after: changed) -> 1/3
    assert (m1["behaviour_kept"], m1["behaviour_kept_n"]) == (0.5, 2)
    assert m1["behaviour_kept_all_rows"] == pytest.approx(1 / 3)
    # mode share 2/3, compliance 1; colours is no option task: no position preference to flag
    assert m1["groups"] == {"n": 1, "informative": 1, "position_constant": 0}


def test_agents_block(study):
    agents = run(["m1", "m2"])["agents"]
    assert set(agents) == {"m1", "m2", "m1__self", "m2__self", "m1__cross__m2",
                           "m2__cross__m1", "m1__shift", "m2__shift"}
    a = agents["m1__self"]
    assert a["demonstration_leak"] == pytest.approx(1 / 3)  # "neon" repeats the demo
    assert a["object_compliance"] == 1.0 and a["hypothetical_compliance"] == pytest.approx(2 / 3)
    assert a["top_answer_share"] == {"colours": pytest.approx(1 / 3)}
    assert agents["m1"]["object_compliance"] == pytest.approx(2 / 3)
    assert agents["m2"]["top_answer_share"] == {"colours": 1.0}
    assert agents["m2__cross__m1"] == {"hypothetical_compliance": 1.0, "n_hypothetical": 3}


def test_self_vs_cross_calibration_and_shift(study):
    out = run(["m1", "m2"])
    m1, m2 = out["targets"]["m1"], out["targets"]["m2"]
    # self right on 0, 1; cross right on 0 only: per-item diffs 0, +1, 0 -> diff 1/3; the one
    # nonzero item gives 2 sign patterns, both |sum| >= 1 -> p = 1
    t = m1["self_vs_cross"]["m2"]["keep_all"]
    assert t["diff"] == pytest.approx(1 / 3) and t["p_value"] == 1.0 and t["exact"] == 1
    assert t["n"] == 3 and t["n_items"] == 3
    assert m1["self_vs_cross"]["m2"]["compliant"]["n"] == 2   # self's row 2 non-compliant
    assert m2["self_vs_cross"]["m1"]["keep_all"]["diff"] == pytest.approx(-1 / 3)
    # untrained pairs (obj 2/3, hyp 1/2), (1/3, 1/4): median 1/2 splits them ->
    # 100 * mean(1/6, 1/12) = 12.5; self: (1, 1/2) -> 50; cross: red never sampled -> 100
    cal = m1["calibration_mad"]
    assert cal["untrained"]["mad"] == pytest.approx(12.5)
    assert cal["untrained"]["n_pairs"] == 2 and cal["untrained"]["n_items"] == 1
    assert cal["self"]["mad"] == pytest.approx(50.0)
    assert cal["cross"]["m2"]["mad"] == pytest.approx(100.0)
    assert m2["calibration_mad"]["self"]["mad"] is None
    # shift: changed rows 0 (red -> blue) and 2 (green -> red); both predictions match new
    sh = m1["shift"]
    assert sh["new"]["accuracy"] == 1.0 and sh["old"]["accuracy"] == 0.0
    assert sh["new"]["n"] == sh["old"]["n"] == 2 and sh["new"]["n_compliant"] == 2
    assert sh["new_minus_old"]["keep_all"]["p_value"] == 0.5   # 2 of 4 patterns
    # baselines: new values (blue, red) tie -> blue: 1/2; old (red, green) -> green: 1/2
    assert sh["new"]["baseline"] == 0.5 and sh["old"]["baseline"] == 0.5
    sh2 = m2["shift"]
    assert (sh2["new"]["accuracy"], sh2["old"]["accuracy"], sh2["new"]["n"]) == (0.0, 1.0, 1)


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
    assert un["target_value"].to_list() == ["red", "blue", None]
    assert un["correct"].to_list() == [True, False, False]
    groups = pl.read_csv(tables / "by_task_property.csv")
    assert groups.height == 6
    assert set(groups["role"]) == {"untrained", "self", "cross:m1", "cross:m2"}
    bins = pl.read_csv(tables / "calibration_bins.csv")
    assert bins.columns == ["target", "role", "bin", "object_mean", "hypo_mean", "n"]
    assert bins["role"].to_list() == ["untrained", "untrained", "self", "cross:m2"]
    assert bins["object_mean"].to_list() == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0])
    assert bins["hypo_mean"].to_list() == pytest.approx([0.25, 0.5, 0.5, 0.0])
    info = pl.read_csv(tables / "informative_groups.csv")
    assert info.select("target", "mode", "informative").rows() == [("m1", "red", True),
                                                                   ("m2", "green", True)]


def _metrics_numbers(d, path=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _metrics_numbers(v, f"{path}{k}.")
        else:
            yield f"{path}{k}", v


def test_metrics_file_holds_numbers_only(study):
    out = run(["m1", "m2"])
    for key, value in _metrics_numbers(out):
        assert value is None or (isinstance(value, int | float)
                                 and not isinstance(value, bool)), key


def test_group_table_marks_uninformative_groups():
    truth = pl.DataFrame({"task": ["t"] * 4 + ["u"] * 4, "item_id": list("abcdabcd"),
                          "property": ["p"] * 8,
                          "value": ["x", "x", "x", "y", "x", None, None, None],
                          "compliant": [True, True, True, True, True, False, False, True]})
    pred = truth.select("task", "item_id", "property",
                        pl.col("value").alias("prediction"))
    t = group_table("m", truth, {"self": pred})
    # t: mode share 3/4, compliance 1 -> informative; u: one defined row -> mode share 1 and
    # compliance 2/4 -> uninformative
    assert t.select("task", "mode_share", "object_compliance", "informative").rows() == [
        ("t", 0.75, 1.0, True), ("u", 1.0, 0.5, False)]
    assert t["hypothetical_compliance_self"].to_list() == [1.0, 0.25]


def test_a_target_that_always_gives_one_letter_is_not_informative():
    """myopic_reward/matches_target: the target letter varies with the item, so the value's mode
    share is low, but a model answering "A" to every item measures a position preference."""
    from inward.tasks.catalog import Item

    items = [Item("myopic_reward", f"r{i}", f"q {i}", "AB"[i % 2], "test") for i in range(20)]
    always_a = [{"task": it.task, "item_id": it.item_id, "response": "A."} for it in items]
    truth = pl.DataFrame({"task": ["myopic_reward"] * 20, "item_id": [it.item_id for it in items],
                          "property": ["matches_target"] * 20,
                          "value": ["true" if it.target == "A" else "false" for it in items],
                          "compliant": [True] * 20})
    pred = truth.select("task", "item_id", "property", pl.col("value").alias("prediction"))
    shares = top_letter_shares(items, always_a)
    assert shares == {"myopic_reward": 1.0}
    t = group_table("m", truth, {"self": pred}, shares)
    assert t.select("mode_share", "top_letter_share", "position_constant", "informative"
                    ).rows() == [(0.5, 1.0, True, False)]
    # 18 of 20 alike (0.9 < 0.95): a preference, not a constant
    mixed = always_a[:18] + [{**a, "response": "B"} for a in always_a[18:]]
    t = group_table("m", truth, {"self": pred}, top_letter_shares(items, mixed))
    assert t.select("top_letter_share", "position_constant", "informative").rows() == [
        (0.9, False, True)]


def test_single_model_has_no_cross_or_shift(study):
    out = run(["m1"])
    m1 = out["targets"]["m1"]
    assert list(out["targets"]) == ["m1"]
    assert "cross" not in m1 and "shift" not in m1 and m1["self_vs_cross"] == {}
    assert m1["calibration_mad"]["self"]["mad"] == pytest.approx(50.0)
    assert m1["self"]["accuracy"] == pytest.approx(2 / 3)  # same numbers as with two models


def test_lenient_rules_change_what_is_compliant(study):
    write_jsonl([{"task": it.task, "item_id": it.item_id, "property": "starts_with_vowel",
                  "response": r} for it, r in zip(ITEMS, ["no", "Yes", "true"], strict=True)],
                study / layout.hypo_path("m1"))
    kw = {"models": ["m1"], "test_items": layout.items_path("test"),
          "props": ["starts_with_vowel"], "calib": CALIBRATION, "n_boot": 50, "seed": 0,
          "metrics_path": layout.METRICS, "tables_dir": layout.TABLES}
    paper = evaluate_study(**kw)["targets"]["m1"]["untrained"]
    lenient = evaluate_study(**kw, rule_set="lenient")["targets"]["m1"]["untrained"]
    # objects: red (false), blue (false); paper reads "no"/"Yes" as non-compliant
    assert (paper["accuracy"], paper["n_compliant"]) == (0.0, 0)
    assert (lenient["accuracy"], lenient["n_compliant"]) == (0.5, 2)
    # a rule set object reads as its name does; an unknown name is refused
    assert evaluate_study(**kw, rule_set=LENIENT)["targets"]["m1"]["untrained"] == lenient
    with pytest.raises(ValueError, match="metrics.rules: unknown rule set 'loose'"):
        evaluate_study(**kw, rule_set="loose")


def test_no_calibration_pairs_still_writes_bins_header(study):
    for agent in ("m1", "m1__self"):  # no object-level samples at all
        write_jsonl([], study / layout.object_dist_path(agent))
    out = run(["m1"])
    assert out["targets"]["m1"]["calibration_mad"]["self"]["mad"] is None
    bins = pl.read_csv(study / layout.TABLES / "calibration_bins.csv")
    assert bins.height == 0
    assert bins.columns == ["target", "role", "bin", "object_mean", "hypo_mean", "n"]


def test_per_group_metrics():
    groups = pl.DataFrame({"target": ["a", "a", "b"], "role": ["self", "self", "untrained"],
                           "task": ["t", "u", "t"], "property": ["p", "p", "q"],
                           "accuracy": [0.5, None, 1.0]})
    assert _per_group_metrics(groups) == {"a": {"self": {"t/p": 0.5, "u/p": None}},
                                          "b": {"untrained": {"t/q": 1.0}}}
