"""Scores on polars frames keyed by (task, item_id, property).

Frames:
* object-level property frame ("target"): task, item_id, property, value (null = undefined
  or non-compliant object answer);
* prediction frame: task, item_id, property, prediction (null = non-compliant hypothetical);
* distribution frame: task, item_id, property, values (list[str]), probs (list[f64]).

Conventions, shared by every function:
* prediction and target are inner-joined on the key, so a missing prediction must be given
  as a row with a null prediction (``inward.frames`` does that) to count as wrong;
* rows whose target value is null are excluded (the property is undefined) and counted as
  ``n_excluded``; null predictions count as wrong and are counted as ``n_noncompliant``;
* confidence intervals are 95% percentile bootstrap over rows, ``numpy.random.default_rng(seed)``;
  rows are put in key order first (joins and group_by do not keep order), so the same rows in
  any order give the same numbers;
* paired comparisons use the exact McNemar test: a two-sided binomial test (p = 1/2) on the
  rows where exactly one of the two is correct.
Results are plain dicts of floats/ints (None where undefined, e.g. no rows), JSON-ready.
"""

from __future__ import annotations

from math import comb

import numpy as np
import polars as pl

KEY = ["task", "item_id", "property"]
MCNEMAR = "exact McNemar (two-sided binomial on discordant rows)"


def _need(frame: pl.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}; it has {frame.columns}")


def _bootstrap(correct: np.ndarray, n_boot: int, seed: int) -> tuple[float | None, float | None]:
    n = len(correct)
    if n == 0 or n_boot < 1:
        return None, None
    rng = np.random.default_rng(seed)
    step = max(1, 2_000_000 // n)  # resample in chunks to bound memory
    means = np.concatenate([correct[rng.integers(0, n, size=(min(step, n_boot - i), n))].mean(1)
                            for i in range(0, n_boot, step)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def _score(correct: np.ndarray, n_boot: int, seed: int) -> dict:
    lo, hi = _bootstrap(correct.astype(float), n_boot, seed)
    acc = float(correct.mean()) if len(correct) else None
    return {"accuracy": acc, "ci_low": lo, "ci_high": hi, "n": len(correct)}


def _joined(pred: pl.DataFrame, target: pl.DataFrame) -> pl.DataFrame:
    _need(pred, [*KEY, "prediction"], "prediction")
    _need(target, [*KEY, "value"], "target")
    return pred.select([*KEY, "prediction"]).join(target.select([*KEY, "value"]), on=KEY,
                                                  how="inner").sort(KEY)


def _accuracy_of_joined(j: pl.DataFrame, n_boot: int, seed: int) -> dict:
    scored = j.filter(pl.col("value").is_not_null())
    correct = (scored["prediction"] == scored["value"]).fill_null(False).to_numpy()
    out = _score(correct, n_boot, seed)
    out["n_noncompliant"] = int(scored["prediction"].is_null().sum())
    out["n_excluded"] = j.height - scored.height
    return out


def accuracy(pred: pl.DataFrame, target: pl.DataFrame, n_boot: int = 1000,
             seed: int = 0) -> dict:
    """Micro accuracy of predictions against object-level values, with a bootstrap CI.

    Returns accuracy, ci_low, ci_high, n (scored rows), n_noncompliant, n_excluded.
    """
    return _accuracy_of_joined(_joined(pred, target), n_boot, seed)


def _groups(frame: pl.DataFrame) -> list[tuple[tuple[str, str], pl.DataFrame]]:
    """(task, property) groups in key order, each with its rows in key order."""
    return sorted(((key, part.sort(KEY)) for key, part in frame.group_by(["task", "property"])),
                  key=lambda kg: kg[0])


def _by_group(frame: pl.DataFrame, fn) -> pl.DataFrame:
    return pl.DataFrame([{"task": task, "property": prop, **fn(part)}
                         for (task, prop), part in _groups(frame)])


def accuracy_by_group(pred: pl.DataFrame, target: pl.DataFrame, n_boot: int = 1000,
                      seed: int = 0) -> pl.DataFrame:
    """``accuracy`` per (task, property), one row each, sorted by task then property."""
    return _by_group(_joined(pred, target), lambda g: _accuracy_of_joined(g, n_boot, seed))


def _mode(values: pl.Series) -> str:
    counts = values.value_counts()
    counts = counts.sort(["count", values.name], descending=[True, False])
    return counts[values.name][0]  # most common; ties -> lexicographically smallest


def _restrict(target: pl.DataFrame, pred: pl.DataFrame | None) -> pl.DataFrame:
    _need(target, [*KEY, "value"], "target")
    return target if pred is None else target.join(pred.select(KEY), on=KEY, how="semi")


def _mode_of_group(g: pl.DataFrame, n_boot: int, seed: int) -> dict:
    scored = g.filter(pl.col("value").is_not_null())
    mode = _mode(scored["value"]) if scored.height else None
    correct = (scored["value"] == mode).to_numpy() if mode is not None else np.array([], bool)
    return {"mode": mode, "correct": correct, "n_excluded": g.height - scored.height}


def mode_baseline(target: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
                  pred: pl.DataFrame | None = None) -> dict:
    """Accuracy of always guessing each (task, property)'s most common object-level value.

    The mode is taken on the evaluation rows themselves (ties -> lexicographically smallest);
    with ``pred`` the target is first restricted to the keys that have a prediction row.
    Same dict shape as ``accuracy`` (n_noncompliant is 0).
    """
    t = _restrict(target, pred)
    parts = [_mode_of_group(g, n_boot, seed) for _, g in _groups(t)]
    correct = np.concatenate([p["correct"] for p in parts]) if parts else np.array([], bool)
    out = _score(correct, n_boot, seed)
    out["n_noncompliant"] = 0
    out["n_excluded"] = sum(p["n_excluded"] for p in parts)
    return out


def mode_baseline_by_group(target: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
                           pred: pl.DataFrame | None = None) -> pl.DataFrame:
    """``mode_baseline`` per (task, property), with the guessed ``mode`` as a column."""
    def one(g: pl.DataFrame) -> dict:
        p = _mode_of_group(g, n_boot, seed)
        return {"mode": p["mode"], **_score(p["correct"], n_boot, seed), "n_noncompliant": 0,
                "n_excluded": p["n_excluded"]}
    return _by_group(_restrict(target, pred), one)


def compliance_rate(frame: pl.DataFrame, column: str) -> dict:
    """Share of rows whose ``column`` is not null: {"rate", "n"} (rate None for no rows)."""
    _need(frame, [column], "compliance")
    n = frame.height
    return {"rate": float(frame[column].is_not_null().sum() / n) if n else None, "n": n}


def calibration_mad(object_dists: pl.DataFrame, hypo_dists: pl.DataFrame, n_bins: int = 10,
                    top_k: int = 3) -> dict:
    """Calibration of hypothetical probabilities against object-level behaviour (the paper's MAD).

    For each prompt (key present in both frames) take its ``top_k`` most likely object-level
    values (ties by value); pair each value's object probability with the hypothetical
    probability of that same value (0 if absent). Pool all pairs, sort by hypothetical
    probability and cut into ``n_bins`` equal-count bins; MAD = 100 x mean over bins of
    |mean object prob - mean hypothetical prob|. Returns {"mad", "n_pairs", "bins": [...]}.
    """
    for frame, what in ((object_dists, "object distribution"),
                        (hypo_dists, "hypothetical distribution")):
        _need(frame, [*KEY, "values", "probs"], what)
    hypo = {tuple(r[:3]): dict(zip(r[3], r[4]))
            for r in hypo_dists.select([*KEY, "values", "probs"]).iter_rows()}
    obj_p, hyp_p = [], []
    for *key, values, probs in object_dists.select([*KEY, "values", "probs"]).sort(KEY).iter_rows():
        h = hypo.get(tuple(key))
        if h is None:
            continue
        for v, p in sorted(zip(values, probs), key=lambda vp: (-vp[1], vp[0]))[:top_k]:
            obj_p.append(p)
            hyp_p.append(h.get(v, 0.0))
    if not obj_p:
        return {"mad": None, "n_pairs": 0, "bins": []}
    obj, hyp = np.array(obj_p), np.array(hyp_p)
    order = np.argsort(hyp, kind="stable")
    bins = []
    for idx in np.array_split(order, min(n_bins, len(order))):
        bins.append({"hypo_mean": float(hyp[idx].mean()), "object_mean": float(obj[idx].mean()),
                     "n": len(idx)})
    mad = 100 * float(np.mean([abs(b["object_mean"] - b["hypo_mean"]) for b in bins]))
    return {"mad": mad, "n_pairs": len(obj_p), "bins": bins}


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b and c."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def shift_accuracy(pred_new_model: pl.DataFrame, old_target: pl.DataFrame,
                   new_target: pl.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """Does a model whose behaviour was shifted predict its new or its old behaviour?

    Restricted to rows where the old and new values are both defined and differ. Returns n,
    n_noncompliant, accuracy_new/old with ci_low_/ci_high_ and an exact McNemar p_value for
    "matches new" vs "matches old".
    """
    old = _restrict(old_target, None).select([*KEY, pl.col("value").alias("old")])
    new = _restrict(new_target, None).select([*KEY, pl.col("value").alias("new")])
    changed = old.join(new, on=KEY, how="inner").filter(
        pl.col("old").is_not_null() & pl.col("new").is_not_null()
        & (pl.col("old") != pl.col("new")))
    _need(pred_new_model, [*KEY, "prediction"], "prediction")
    j = changed.join(pred_new_model.select([*KEY, "prediction"]), on=KEY, how="inner").sort(KEY)
    hit_new = (j["prediction"] == j["new"]).fill_null(False).to_numpy()
    hit_old = (j["prediction"] == j["old"]).fill_null(False).to_numpy()
    s_new, s_old = _score(hit_new, n_boot, seed), _score(hit_old, n_boot, seed)
    return {"n": j.height, "n_noncompliant": int(j["prediction"].is_null().sum()),
            "accuracy_new": s_new["accuracy"], "ci_low_new": s_new["ci_low"],
            "ci_high_new": s_new["ci_high"], "accuracy_old": s_old["accuracy"],
            "ci_low_old": s_old["ci_low"], "ci_high_old": s_old["ci_high"],
            "p_value": mcnemar_exact(int((hit_new & ~hit_old).sum()),
                                     int((hit_old & ~hit_new).sum())),
            "method": MCNEMAR}


def paired_test(pred_a: pl.DataFrame, pred_b: pl.DataFrame, target: pl.DataFrame,
                n_boot: int = 1000, seed: int = 0) -> dict:
    """Compare two predictors scored against the same target rows (e.g. self vs cross).

    Uses rows present in all three frames with a defined target. diff = acc(a) - acc(b);
    ci_low/ci_high: paired bootstrap of diff; p_value: exact McNemar.
    """
    _need(pred_a, [*KEY, "prediction"], "prediction a")
    _need(pred_b, [*KEY, "prediction"], "prediction b")
    t = _restrict(target, None).filter(pl.col("value").is_not_null()).select([*KEY, "value"])
    j = (t.join(pred_a.select([*KEY, pl.col("prediction").alias("a")]), on=KEY, how="inner")
          .join(pred_b.select([*KEY, pl.col("prediction").alias("b")]), on=KEY, how="inner")
          .sort(KEY))
    ca = (j["a"] == j["value"]).fill_null(False).to_numpy()
    cb = (j["b"] == j["value"]).fill_null(False).to_numpy()
    only_a, only_b = int((ca & ~cb).sum()), int((cb & ~ca).sum())
    diff = ca.astype(float) - cb.astype(float)
    lo, hi = _bootstrap(diff, n_boot, seed)
    return {"diff": float(diff.mean()) if len(diff) else None, "ci_low": lo, "ci_high": hi,
            "accuracy_a": float(ca.mean()) if len(ca) else None,
            "accuracy_b": float(cb.mean()) if len(cb) else None,
            "p_value": mcnemar_exact(only_a, only_b), "n": j.height,
            "n_only_a": only_a, "n_only_b": only_b, "method": MCNEMAR}
