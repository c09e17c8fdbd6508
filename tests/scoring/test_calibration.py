"""Calibration MAD by the paper's method, on hand-worked pairs: pandas-qcut bins on the
object-level probability, top-k pairs, unassigned hypothetical mass, item-level CI."""

import numpy as np
import polars as pl
import pytest

from inward.scoring import calibration

SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
          "values": pl.List(pl.Utf8), "probs": pl.List(pl.Float64)}


def dists(rows):
    return pl.DataFrame([{"task": "t", "item_id": i, "property": "p", "values": list(d),
                          "probs": list(d.values())} for i, d in rows], schema=SCHEMA)


@pytest.mark.parametrize("x, q, codes", [
    # quartile edges of 1..8: 1, 2.75, 4.5, 6.25, 8 -> [1,2.75], (2.75,4.5], ...
    ([1, 2, 3, 4, 5, 6, 7, 8], 4, [0, 0, 1, 1, 2, 2, 3, 3]),
    # ties stay together: edges 0, 0, 0, 0.25, 1 -> unique 0, 0.25, 1
    ([0, 0, 0, 1], 4, [0, 0, 0, 1]),
    # edges of [0.2, 0.2, 0.2, 0.6, 1.0] at q=2: 0.2, 0.2, 1.0 -> [0.2, 1.0]: one bin
    ([0.2, 0.2, 0.2, 0.6, 1.0], 2, [0, 0, 0, 0, 0]),
    # q=3 on 1..6: edges 1, 2.6667, 4.3333, 6
    ([6, 1, 3, 2, 5, 4], 3, [2, 0, 1, 0, 2, 1]),
    # all equal: one bin (pandas would give no bin)
    ([0.5, 0.5, 0.5], 10, [0, 0, 0]),
])
def test_qcut_codes_hand_worked(x, q, codes):
    assert calibration.qcut_codes(np.array(x, float), q).tolist() == codes


def test_pairs_top_k_and_unassigned_hypothetical_mass():
    obj = dists([("1", {"r": 0.6, "b": 0.2, "g": 0.1, "y": 0.1}),   # top 3: r, b, g (g < y)
                 ("2", {"k": 1.0}),
                 ("3", {"z": 1.0})])                                  # no hypothetical row
    hyp = dists([("1", {"r": 0.4, "g": 0.2}),        # 0.4 of the mass unparseable: kept out
                 ("2", {})])                          # nothing parseable: still paired (0)
    p = calibration.pairs(obj, hyp, top_k=3)
    assert p.select("item_id", "rank", "value", "object_prob", "hypo_prob").rows() == [
        ("1", 1, "r", 0.6, 0.4), ("1", 2, "b", 0.2, 0.0), ("1", 3, "g", 0.1, 0.2),
        ("2", 1, "k", 1.0, 0.0)]


def test_mad_hand_worked():
    obj = dists([("1", {"r": 0.6, "b": 0.2, "g": 0.1, "y": 0.1}), ("2", {"k": 1.0})])
    hyp = dists([("1", {"r": 0.4, "g": 0.2}), ("2", {})])
    # object probs 0.6, 0.2, 0.1, 1.0 at q=2: median 0.4 -> [0.1, 0.4]: (0.2, 0.1) with
    # hypothetical (0.0, 0.2); (0.4, 1.0]: (0.6, 1.0) with (0.4, 0.0)
    # bin 1: |0.15 - 0.1| = 0.05; bin 2: |0.8 - 0.2| = 0.6 -> MAD = 100 * 0.325
    res = calibration.calibration_mad(obj, hyp, n_bins=2, top_k=3, n_boot=200, seed=0)
    assert res["mad"] == pytest.approx(32.5)
    assert res["n_pairs"] == 4 and res["n_items"] == 2
    assert [(b["n"], round(b["object_mean"], 9), round(b["hypo_mean"], 9))
            for b in res["bins"]] == [(2, 0.15, 0.1), (2, 0.8, 0.2)]
    assert res["ci_low"] <= res["ci_high"]
    assert res == calibration.calibration_mad(obj, hyp, n_bins=2, top_k=3, n_boot=200, seed=0)
    # bins by the OBJECT probability: swapping the hypothetical side changes the bins' content
    # but not which pairs share a bin
    assert calibration.calibration_mad(obj, hyp, n_bins=1, top_k=1, n_boot=0)["mad"] == \
        pytest.approx(100 * abs((0.6 + 1.0) / 2 - (0.4 + 0.0) / 2))


def test_mad_ci_resamples_items():
    # one item perfectly calibrated, one maximally wrong: an item bootstrap gives MADs from
    # resamples of whole items only, i.e. in {0, 50, 100} here (n_bins=1, top_k=1)
    obj = dists([("1", {"a": 1.0}), ("2", {"b": 1.0})])
    hyp = dists([("1", {"a": 1.0}), ("2", {})])
    res = calibration.calibration_mad(obj, hyp, n_bins=1, top_k=1, n_boot=300, seed=3)
    assert res["mad"] == 50.0
    rng = np.random.default_rng(3)
    stats = [100 * abs(1.0 - np.mean([1.0 if i == 0 else 0.0 for i in rng.integers(0, 2, 2)]))
             for _ in range(300)]
    assert (res["ci_low"], res["ci_high"]) == tuple(np.percentile(stats, [2.5, 97.5]))


def test_no_pairs():
    res = calibration.calibration_mad(dists([]), dists([]), n_boot=10)
    assert res["mad"] is None and res["n_pairs"] == 0 and res["bins"] == []
    with pytest.raises(ValueError, match="object distribution frame lacks"):
        calibration.pairs(pl.DataFrame({"task": ["t"]}), dists([]))
