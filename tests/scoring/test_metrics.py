"""Every metric on small frames whose answers are worked out by hand: both non-compliance
policies, mode baselines on the same rows, item-level bootstrap CIs and paired tests."""

import json

import numpy as np
import polars as pl
import pytest

from inward.scoring import metrics

P, Q = "first_word", "second_word"


def frame(rows, col="value"):
    """rows: (task, item_id, property, value) -> frame."""
    return pl.DataFrame([{"task": t, "item_id": i, "property": p, col: v}
                         for t, i, p, v in rows],
                        schema={"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                                col: pl.Utf8})


TARGET = frame([("t", "1", P, "a"), ("t", "2", P, "b"), ("t", "3", P, "c"),
                ("t", "4", P, None), ("t", "5", P, "a")])
PRED = frame([("t", "1", P, "a"),      # right
              ("t", "2", P, "c"),      # wrong
              ("t", "3", P, None),     # non-compliant: wrong (keep-all), dropped (compliant)
              ("t", "4", P, "x"),      # object value undefined: scored by neither policy
              ("t", "5", P, "a"),      # right
              ("t", "6", P, "z")],     # no object row: not joined
             "prediction")


def test_accuracy_both_policies_hand_worked():
    keep = metrics.accuracy(PRED, TARGET, n_boot=200, seed=0)
    assert keep["accuracy"] == 0.5 and keep["n"] == 4 and keep["n_noncompliant"] == 1
    comp = metrics.accuracy(PRED, TARGET, n_boot=200, seed=0, policy="compliant")
    assert comp["accuracy"] == pytest.approx(2 / 3) and comp["n"] == 3
    assert comp["n_noncompliant"] == 0 and comp["n_items"] == 3
    assert 0 <= keep["ci_low"] <= 0.5 <= keep["ci_high"] <= 1
    assert keep == metrics.accuracy(PRED.reverse(), TARGET, n_boot=200, seed=0)  # order-free
    json.dumps(keep)
    with pytest.raises(ValueError, match="policy 'drop'.*keep_all, compliant"):
        metrics.accuracy(PRED, TARGET, policy="drop")


def test_accuracy_empty_and_missing_column():
    empty = metrics.accuracy(frame([], "prediction"), frame([]))
    assert empty["n"] == 0 and empty["accuracy"] is None and empty["ci_low"] is None
    with pytest.raises(ValueError, match="prediction frame lacks column"):
        metrics.accuracy(TARGET, TARGET)


def test_bootstrap_resamples_items_not_rows():
    # item 1: both properties right; item 2: both wrong. A row bootstrap would give means in
    # steps of 1/4 (e.g. 0.25, 0.75); an item bootstrap only 0, 1/2 or 1.
    target = frame([("t", "1", P, "a"), ("t", "1", Q, "b"), ("t", "2", P, "a"),
                    ("t", "2", Q, "b")])
    pred = frame([("t", "1", P, "a"), ("t", "1", Q, "b"), ("t", "2", P, "x"),
                  ("t", "2", Q, "y")], "prediction")
    rows = metrics.scored_rows(pred, target)
    cluster = metrics.item_index(rows)
    assert cluster.tolist() == [0, 0, 1, 1]
    sums, counts = metrics.item_sums(rows["correct"].to_numpy(), cluster)
    assert sums.tolist() == [2.0, 0.0] and counts.tolist() == [2.0, 2.0]
    rng = np.random.default_rng(5)
    idx = rng.integers(0, 2, size=(400, 2))
    means = sums[idx].sum(1) / counts[idx].sum(1)
    assert set(np.round(means, 6)) <= {0.0, 0.5, 1.0}
    acc = metrics.accuracy(pred, target, n_boot=400, seed=5)
    assert (acc["ci_low"], acc["ci_high"]) == tuple(np.percentile(means, [2.5, 97.5]))
    assert acc["n_items"] == 2 and acc["n"] == 4


def test_accuracy_by_group():
    target = pl.concat([TARGET, frame([("u", "1", P, "x"), ("u", "2", P, "y")])])
    pred = pl.concat([PRED, frame([("u", "1", P, "x"), ("u", "2", P, "y")], "prediction")])
    g = metrics.accuracy_by_group(pred, target, n_boot=50)
    assert g["task"].to_list() == ["t", "u"] and g["accuracy"].to_list() == [0.5, 1.0]
    g = metrics.accuracy_by_group(pred, target, n_boot=50, policy="compliant")
    assert g["n"].to_list() == [3, 2]


def test_mode_baseline_on_the_same_rows():
    # keep-all rows: a, b, c, a -> mode a: 2/4. compliant rows: a, b, a -> mode a: 2/3
    keep = metrics.mode_baseline(TARGET, n_boot=50, pred=PRED)
    assert keep["accuracy"] == 0.5 and keep["n"] == 4
    comp = metrics.mode_baseline(TARGET, n_boot=50, pred=PRED, policy="compliant")
    assert comp["accuracy"] == pytest.approx(2 / 3) and comp["n"] == 3
    # ties -> the lexicographically smallest value; per (task, property) group
    t = frame([("t", "1", P, "z"), ("t", "2", P, "b"), ("u", "1", P, "q")])
    by = metrics.mode_baseline_by_group(t, n_boot=20)
    assert by["mode"].to_list() == ["b", "q"] and by["accuracy"].to_list() == [0.5, 1.0]
    assert metrics.mode_of(["b", "a", "b", "a"]) == "a" and metrics.mode_of([]) is None


def test_compliance_rate():
    assert metrics.compliance_rate(PRED, "prediction") == {"rate": 5 / 6, "n": 6}
    flags = pl.DataFrame({"compliant": [True, False, True, True]})
    assert metrics.compliance_rate(flags, "compliant") == {"rate": 0.75, "n": 4}
    assert metrics.compliance_rate(PRED.head(0), "prediction")["rate"] is None


def test_sign_flip_test_exact_hand_worked():
    # diffs (+1, +1, 0): the zero item drops out; 4 sign patterns, |sum| >= 2 for 2 of them
    p, how = metrics.sign_flip_test(np.array([1.0, 1.0, 0.0]))
    assert (p, how) == (0.5, "exact")
    # (+2, +1, -1): patterns |sum| over 8: 2,4,0,2,2,0,4,2 -> >= 2 in 6 of 8
    assert metrics.sign_flip_test(np.array([2.0, 1.0, -1.0]))[0] == 0.75
    assert metrics.sign_flip_test(np.zeros(3)) == (1.0, "exact")
    assert metrics.sign_flip_test(np.zeros(0))[0] is None


def test_sign_flip_test_monte_carlo_is_seeded_and_small_for_a_clear_effect():
    diffs = np.ones(30)
    p, how = metrics.sign_flip_test(diffs, seed=1, n_permutations=2000)
    assert how == "monte_carlo" and p == pytest.approx(1 / 2001)  # +1 correction
    mixed = np.array([1.0, -1.0] * 15)
    p1 = metrics.sign_flip_test(mixed, seed=1, n_permutations=2000)[0]
    assert p1 == metrics.sign_flip_test(mixed, seed=1, n_permutations=2000)[0]
    assert p1 > 0.5


def test_paired_test_self_vs_cross():
    a = frame([("t", "1", P, "a"), ("t", "2", P, "b"), ("t", "3", P, None),
               ("t", "5", P, "a")], "prediction")
    b = frame([("t", "1", P, "a"), ("t", "2", P, "x"), ("t", "3", P, "c"),
               ("t", "5", P, "x")], "prediction")
    res = metrics.paired_test(a, b, TARGET, n_boot=200, seed=0)
    # rows 1, 2, 3, 5 (targets a, b, c, a): a right on 1, 2, 5 = 3/4; b right on 1, 3 = 2/4;
    # per-item diffs 0, +1, -1, +1
    assert res["accuracy_a"] == 0.75 and res["accuracy_b"] == 0.5
    assert res["diff"] == 0.25 and res["n"] == 4 and res["n_items"] == 4
    # nonzero diffs (+1, -1, +1): |sum| >= 1 in all 8 patterns -> p = 1
    assert res["p_value"] == 1.0 and res["exact"] == 1
    assert res["ci_low"] <= 0.25 <= res["ci_high"]
    comp = metrics.paired_test(a, b, TARGET, n_boot=50, policy="compliant")
    assert comp["n"] == 3 and comp["diff"] == pytest.approx(2 / 3)  # row 3 dropped


def test_shift_both_policies():
    old = frame([("t", "1", P, "a"), ("t", "2", P, "b"), ("t", "3", P, "c"),
                 ("t", "4", P, "d"), ("t", "5", P, None)])
    new = frame([("t", "1", P, "x"), ("t", "2", P, "b"), ("t", "3", P, "y"),
                 ("t", "4", P, "z"), ("t", "5", P, "w")])
    pred = frame([("t", "1", P, "x"), ("t", "2", P, "b"), ("t", "3", P, "c"),
                  ("t", "4", P, None), ("t", "5", P, "w")], "prediction")
    # changed and defined: 1 (a->x), 3 (c->y), 4 (d->z); 2 unchanged, 5 old undefined
    res = metrics.shift_accuracy(pred, old, new, n_boot=100, seed=0)
    assert res["new"]["n"] == 3 and res["new"]["accuracy"] == pytest.approx(1 / 3)
    assert res["old"]["accuracy"] == pytest.approx(1 / 3) and res["n_noncompliant"] == 1
    assert res["diff"]["diff"] == 0.0 and res["diff"]["p_value"] == 1.0
    # baselines on the same rows: new values x, y, z (tie -> x: 1/3), old a, c, d -> a: 1/3
    assert res["new_baseline"]["accuracy"] == pytest.approx(1 / 3)
    comp = metrics.shift_accuracy(pred, old, new, n_boot=100, seed=0, policy="compliant")
    assert comp["new"]["n"] == 2 and comp["new"]["accuracy"] == 0.5
    assert comp["old"]["accuracy"] == 0.5
