"""Calibration MAD by the paper's method (``side_experiments/19_sep_calibration_main_fig.py``).

For each prompt (task, item_id, property) present in both distribution frames, its ``top_k``
most likely object-level values (ties by value) are paired with the hypothetical probability
of the same value (0 when the hypothetical samples never gave it). All pairs are binned by the
OBJECT-level probability into equal-frequency bins exactly as ``pandas.qcut(x, q=n_bins,
duplicates="drop")`` does (``qcut_codes``); MAD = 100 x the unweighted mean over non-empty bins
of |bin mean object probability - bin mean hypothetical probability|. The CI resamples items
(task, item_id) with all their pairs and recomputes bins and MAD (percentile bootstrap).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from inward.scoring.metrics import KEY


def qcut_codes(x: np.ndarray, q: int) -> np.ndarray:
    """Bin index (0-based) of every x, as ``pandas.qcut(x, q, duplicates="drop").codes``.

    Edges = linear-interpolation quantiles at 0, 1/q, ..., 1; duplicate edges dropped; bins are
    right-closed with the lowest edge included. With a single distinct edge (all x equal,
    where pandas would give no bin at all) every x goes to bin 0.
    """
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    # pandas: Series.quantile(linspace(0, 1, q + 1)) -> np.percentile(x, qs * 100, linear)
    edges = np.percentile(x, np.linspace(0, 1, q + 1) * 100.0)
    if q > 1:
        edges = np.unique(edges)
    if len(edges) < 2:
        return np.zeros(len(x), dtype=np.int64)
    ids = np.searchsorted(edges, x, side="left")
    ids[x == edges[0]] = 1
    return (ids - 1).astype(np.int64)


def pairs(object_dists: pl.DataFrame, hypo_dists: pl.DataFrame, top_k: int = 3) -> pl.DataFrame:
    """(task, item_id, property, rank, value, object_prob, hypo_prob), key-sorted."""
    for frame, what in ((object_dists, "object distribution"),
                        (hypo_dists, "hypothetical distribution")):
        missing = [c for c in [*KEY, "values", "probs"] if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} frame lacks column(s) {missing}; it has {frame.columns}")
    hypo = {tuple(r[:3]): dict(zip(r[3], r[4], strict=True))
            for r in hypo_dists.select([*KEY, "values", "probs"]).iter_rows()}
    rows = []
    for *key, values, probs in object_dists.select([*KEY, "values", "probs"]).sort(KEY).iter_rows():
        h = hypo.get(tuple(key))
        if h is None:
            continue
        ranked = sorted(zip(values, probs, strict=True), key=lambda vp: (-vp[1], vp[0]))
        for rank, (v, p) in enumerate(ranked[:top_k], start=1):
            rows.append({"task": key[0], "item_id": key[1], "property": key[2], "rank": rank,
                         "value": v, "object_prob": float(p), "hypo_prob": float(h.get(v, 0.0))})
    schema = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8, "rank": pl.Int64,
              "value": pl.Utf8, "object_prob": pl.Float64, "hypo_prob": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def _bins(obj: np.ndarray, hyp: np.ndarray, n_bins: int) -> list[dict]:
    codes = qcut_codes(obj, n_bins)
    out = []
    for b in range(int(codes.max()) + 1 if len(codes) else 0):
        sel = codes == b
        if sel.any():
            out.append({"bin": b, "object_mean": float(obj[sel].mean()),
                        "hypo_mean": float(hyp[sel].mean()), "n": int(sel.sum())})
    return out


def mad_of(obj: np.ndarray, hyp: np.ndarray, n_bins: int) -> float | None:
    """100 x mean over non-empty equal-frequency bins of |mean object - mean hypothetical|."""
    bins = _bins(np.asarray(obj, float), np.asarray(hyp, float), n_bins)
    if not bins:
        return None
    return 100 * float(np.mean([abs(b["object_mean"] - b["hypo_mean"]) for b in bins]))


def calibration_mad(object_dists: pl.DataFrame, hypo_dists: pl.DataFrame, n_bins: int = 10,
                    top_k: int = 3, n_boot: int = 1000, seed: int = 0) -> dict:
    """{"mad", "ci_low", "ci_high", "n_pairs", "n_items", "bins": [...]} (see module doc)."""
    p = pairs(object_dists, hypo_dists, top_k)
    obj, hyp = p["object_prob"].to_numpy(), p["hypo_prob"].to_numpy()
    mad = mad_of(obj, hyp, n_bins)
    out = {"mad": mad, "ci_low": None, "ci_high": None, "n_pairs": p.height, "n_items": 0,
           "bins": _bins(obj, hyp, n_bins)}
    if mad is None:
        return out
    cluster = p.select(pl.struct(["task", "item_id"]).rank("dense"))[:, 0].to_numpy() - 1
    members = [np.flatnonzero(cluster == i) for i in range(int(cluster.max()) + 1)]
    out["n_items"] = len(members)
    if n_boot >= 1:
        rng = np.random.default_rng(seed)
        stats = []
        for _ in range(n_boot):
            idx = np.concatenate([members[i] for i in rng.integers(0, len(members),
                                                                   len(members))])
            stats.append(mad_of(obj[idx], hyp[idx], n_bins))
        lo, hi = np.percentile(stats, [2.5, 97.5])
        out["ci_low"], out["ci_high"] = float(lo), float(hi)
    return out
