"""Every metric on small frames whose answers are worked out by hand."""

import json

import polars as pl
import pytest

from inward import metrics

P = "first_word"


def vals(rows, col="value"):
    """rows: (task, item_id, value) -> frame for property P."""
    return pl.DataFrame([{"task": t, "item_id": i, "property": P, col: v} for t, i, v in rows],
                        schema={"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                                col: pl.Utf8})


TARGET = vals([("t", "1", "a"), ("t", "2", "b"), ("t", "3", "c"), ("t", "4", None),
               ("t", "5", "e")])
PRED = vals([("t", "1", "a"),      # right
             ("t", "2", "c"),      # wrong
             ("t", "3", None),     # non-compliant -> wrong
             ("t", "4", "x"),      # target undefined -> excluded
             ("t", "5", "e"),      # right
             ("t", "6", "z")],     # no target row -> not joined
            "prediction")


def test_accuracy_hand_worked():
    res = metrics.accuracy(PRED, TARGET, n_boot=200, seed=0)
    assert res["accuracy"] == 0.5                       # 2 right of 4 scored rows
    assert (res["n"], res["n_noncompliant"], res["n_excluded"]) == (4, 1, 1)
    assert 0 <= res["ci_low"] <= 0.5 <= res["ci_high"] <= 1
    assert res == metrics.accuracy(PRED, TARGET, n_boot=200, seed=0)  # seeded
    json.dumps(res)


def test_accuracy_ci_degenerate_and_empty():
    res = metrics.accuracy(vals([("t", "1", "a"), ("t", "2", "b")], "prediction"),
                           vals([("t", "1", "a"), ("t", "2", "b")]), n_boot=50)
    assert (res["accuracy"], res["ci_low"], res["ci_high"]) == (1.0, 1.0, 1.0)
    empty = metrics.accuracy(vals([], "prediction"), vals([]))
    assert empty["n"] == 0 and empty["accuracy"] is None and empty["ci_low"] is None


def test_accuracy_missing_column():
    with pytest.raises(ValueError, match="prediction frame lacks column"):
        metrics.accuracy(TARGET, TARGET)


def test_accuracy_by_group():
    target = pl.concat([TARGET, vals([("u", "1", "x"), ("u", "2", "y")])])
    pred = pl.concat([PRED, vals([("u", "1", "x"), ("u", "2", "y")], "prediction")])
    g = metrics.accuracy_by_group(pred, target, n_boot=50)
    assert g["task"].to_list() == ["t", "u"]
    assert g["accuracy"].to_list() == [0.5, 1.0]
    assert g["n"].to_list() == [4, 2] and g["n_excluded"].to_list() == [1, 0]
    # micro accuracy over both groups: 4 right of 6
    assert metrics.accuracy(pred, target, n_boot=10)["accuracy"] == pytest.approx(4 / 6)


def test_mode_baseline():
    target = vals([("t", "1", "a"), ("t", "2", "a"), ("t", "3", "b"), ("t", "4", None),
                   ("u", "1", "y"), ("u", "2", "x")])
    res = metrics.mode_baseline(target, n_boot=50)
    # t: mode "a" -> 2 of 3; u: tie x/y -> "x" (lexicographic) -> 1 of 2; micro 3 of 5
    assert res["accuracy"] == pytest.approx(0.6)
    assert (res["n"], res["n_excluded"], res["n_noncompliant"]) == (5, 1, 0)
    g = metrics.mode_baseline_by_group(target, n_boot=50)
    assert g["mode"].to_list() == ["a", "x"]
    assert g["accuracy"].to_list() == pytest.approx([2 / 3, 0.5])
    # restricted to rows that have a prediction: t/3 and u/1 only -> modes b, y -> 2 of 2
    pred = vals([("t", "3", "q"), ("u", "1", "q")], "prediction")
    assert metrics.mode_baseline(target, pred=pred, n_boot=10)["accuracy"] == 1.0


def test_compliance_rate():
    assert metrics.compliance_rate(PRED, "prediction") == {"rate": 5 / 6, "n": 6}
    assert metrics.compliance_rate(vals([]), "value") == {"rate": None, "n": 0}


def dists(rows):
    return pl.DataFrame([{"task": "t", "item_id": i, "property": P, "values": v, "probs": p}
                         for i, v, p in rows],
                        schema={"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                                "values": pl.List(pl.Utf8), "probs": pl.List(pl.Float64)})


OBJ = dists([("1", ["x", "y", "z"], [0.6, 0.3, 0.1]), ("2", ["x"], [1.0]),
             ("3", ["q"], [1.0])])                      # item 3 has no hypothetical row
HYP = dists([("1", ["x", "y"], [0.5, 0.5]), ("2", ["y"], [1.0])])


def test_calibration_mad_hand_worked():
    # pairs (object, hypo): (.6,.5) (.3,.5) (.1,0) from item 1, (1.0, 0) from item 2.
    # sorted by hypo: (.1,0) (1.0,0) | (.6,.5) (.3,.5)
    # bin 1: object .55 vs hypo 0 -> .55; bin 2: object .45 vs hypo .5 -> .05; MAD = 30
    res = metrics.calibration_mad(OBJ, HYP, n_bins=2, top_k=3)
    assert res["mad"] == pytest.approx(30.0) and res["n_pairs"] == 4
    assert [b["n"] for b in res["bins"]] == [2, 2]
    assert res["bins"][0]["hypo_mean"] == 0 and res["bins"][1]["object_mean"] == pytest.approx(.45)
    # top-1 only: (.6,.5) and (1.0,0) -> bins |1.0-0| and |.6-.5| -> MAD 55
    assert metrics.calibration_mad(OBJ, HYP, n_bins=2, top_k=1)["mad"] == pytest.approx(55.0)
    # more bins than pairs: one pair per bin, |.1|+|1.0|+|.1|+|.2| over 4 -> 35
    res = metrics.calibration_mad(OBJ, HYP, n_bins=10, top_k=3)
    assert len(res["bins"]) == 4 and res["mad"] == pytest.approx(35.0)
    json.dumps(res)


def test_calibration_mad_empty():
    assert metrics.calibration_mad(OBJ, dists([])) == {"mad": None, "n_pairs": 0, "bins": []}


def test_mcnemar_exact():
    assert metrics.mcnemar_exact(0, 0) == 1.0
    assert metrics.mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert metrics.mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert metrics.mcnemar_exact(2, 1) == 1.0              # 2 * (1 + 3) / 8, capped


def test_shift_accuracy_hand_worked():
    old = vals([("t", "1", "a"), ("t", "2", "a"), ("t", "3", "a"), ("t", "4", None),
                ("t", "5", "c"), ("t", "6", "c"), ("t", "7", "x")])
    new = vals([("t", "1", "b"), ("t", "2", "b"), ("t", "3", "a"), ("t", "4", "b"),
                ("t", "5", "d"), ("t", "6", "d"), ("t", "7", "y")])
    pred = vals([("t", "1", "b"), ("t", "2", "a"), ("t", "3", "a"), ("t", "4", "b"),
                 ("t", "5", "d"), ("t", "6", None), ("t", "7", "z")], "prediction")
    res = metrics.shift_accuracy(pred, old, new, n_boot=50)
    # changed rows: 1,2,5,6,7 -> new hits 1,5 (2/5); old hits 2 (1/5); McNemar(2, 1) = 1
    assert res["n"] == 5 and res["n_noncompliant"] == 1
    assert res["accuracy_new"] == pytest.approx(0.4)
    assert res["accuracy_old"] == pytest.approx(0.2)
    assert res["p_value"] == 1.0 and "McNemar" in res["method"]
    assert res["ci_low_new"] <= 0.4 <= res["ci_high_new"]
    json.dumps(res)


def test_paired_test_hand_worked():
    target = vals([(("t", str(i), "v")) for i in range(6)] + [("t", "9", None)])
    a = vals([("t", str(i), "v") for i in range(5)] + [("t", "5", "w"), ("t", "9", "v")],
             "prediction")
    b = vals([("t", "0", "v")] + [("t", str(i), None) for i in range(1, 6)] + [("t", "9", "v")],
             "prediction")
    res = metrics.paired_test(a, b, target, n_boot=100)
    # a right on 5 of 6, b right on 1 of 6: only-a 4, only-b 0 -> p = 2/16
    assert res["n"] == 6 and (res["n_only_a"], res["n_only_b"]) == (4, 0)
    assert res["diff"] == pytest.approx(4 / 6)
    assert res["accuracy_a"] == pytest.approx(5 / 6) and res["accuracy_b"] == pytest.approx(1 / 6)
    assert res["p_value"] == pytest.approx(0.125)
    assert res["ci_low"] <= 4 / 6 <= res["ci_high"]
    json.dumps(res)


def test_row_order_does_not_change_any_number():
    # bootstrap CIs resample rows by position, so every metric must first put rows in key
    # order: the same rows shuffled (as joins and group_by may return them) give the same dict
    rows = [(t, str(i), "abcd"[(i * 7 + len(t)) % 4]) for t in ("s", "t", "u") for i in range(9)]
    target = vals(rows)
    pred = vals([(t, i, v if int(i) % 3 else "a") for t, i, v in rows], "prediction")
    other = vals([(t, i, "b") for t, i, _ in rows], "prediction")
    new = vals([(t, i, v if int(i) % 2 else "z") for t, i, v in rows])
    def keyed_dists(rows):
        return pl.DataFrame([{"task": t, "item_id": i, "property": P, "values": list(d),
                              "probs": list(d.values())} for t, i, d in rows])
    obj = keyed_dists([(t, i, {v: 0.6, "q": 0.4}) for t, i, v in rows])
    hyp = keyed_dists([(t, i, {"q": 0.5, "a": 0.5}) for t, i, _ in rows])

    def every_metric(pred, other, target, new, obj, hyp):
        return {"acc": metrics.accuracy(pred, target, n_boot=200, seed=3),
                "by_group": metrics.accuracy_by_group(pred, target, n_boot=50).to_dicts(),
                "base": metrics.mode_baseline(target, n_boot=200, seed=3, pred=pred),
                "base_by_group": metrics.mode_baseline_by_group(target, n_boot=50).to_dicts(),
                "paired": metrics.paired_test(pred, other, target, n_boot=200, seed=3),
                "shift": metrics.shift_accuracy(pred, target, new, n_boot=200, seed=3),
                "mad": metrics.calibration_mad(obj, hyp, n_bins=4)}

    frames = (pred, other, target, new, obj, hyp)
    first = every_metric(*frames)
    for seed in range(3):
        assert every_metric(*(f.sample(fraction=1.0, shuffle=True, seed=seed) for f in frames)) \
            == first
