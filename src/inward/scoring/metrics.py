"""Scores on polars frames keyed by (task, item_id, property); see docs/METRICS.md.

Frames (built by ``inward.scoring.frames``):
* object-level property frame ("target"): task, item_id, property, value (null = undefined or
  non-compliant object answer), optionally compliant;
* prediction frame: task, item_id, property, prediction (null = non-compliant hypothetical);
* distribution frame: task, item_id, property, values (list[str]), probs (list[f64]).

Conventions, shared by every function:
* a row is scored only when its object-level value is defined (the official pipeline never asks
  a hypothetical about a non-compliant object answer); two policies then follow the paper's code:
  ``keep_all`` (a non-compliant hypothetical counts as wrong) and ``compliant`` (rows whose
  hypothetical is non-compliant are dropped as well);
* the unit of resampling is the object-level item (task, item_id): every property of one item
  comes from one answer, so its rows are resampled together. CIs are 95% percentile bootstraps
  over items (``numpy.random.default_rng(seed)``); paired comparisons use a paired item
  bootstrap for the CI and a sign-flip permutation test over items for the p-value;
* rows are put in key order first, so the same rows in any order give the same numbers.
Results are plain dicts of floats/ints (None where undefined, e.g. no rows), JSON-ready.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

KEY = ["task", "item_id", "property"]
ITEM = ["task", "item_id"]
POLICIES = ("keep_all", "compliant")
EXACT_LIMIT = 16        # sign-flip test: exact enumeration up to 2**16 sign patterns
N_PERMUTATIONS = 20000  # else seeded Monte Carlo with this many random sign patterns
SIGN_FLIP = "sign-flip permutation over items (two-sided)"


def _need(frame: pl.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}; it has {frame.columns}")


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown non-compliance policy {policy!r}; allowed: "
                         f"{', '.join(POLICIES)}")


# --- item-level resampling ---------------------------------------------------------------------
def item_index(frame: pl.DataFrame) -> np.ndarray:
    """Cluster id (0..k-1, in key order) of every row of a key-sorted frame."""
    if frame.height == 0:
        return np.zeros(0, dtype=np.int64)
    ids = frame.select(pl.struct(ITEM).rank("dense").alias("i"))["i"].to_numpy()
    return ids.astype(np.int64) - 1


def item_sums(values: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-item sum of ``values`` and per-item row count."""
    k = int(cluster.max()) + 1 if len(cluster) else 0
    return (np.bincount(cluster, weights=values.astype(float), minlength=k),
            np.bincount(cluster, minlength=k).astype(float))


def bootstrap_ratio(sums: np.ndarray, counts: np.ndarray, n_boot: int,
                    seed: int) -> tuple[float | None, float | None]:
    """95% percentile CI of sum(sums)/sum(counts) resampling items with replacement."""
    k = len(sums)
    if k == 0 or n_boot < 1:
        return None, None
    rng = np.random.default_rng(seed)
    step = max(1, 2_000_000 // k)  # resample in chunks to bound memory
    stats = []
    for start in range(0, n_boot, step):
        idx = rng.integers(0, k, size=(min(step, n_boot - start), k))
        stats.append(sums[idx].sum(1) / counts[idx].sum(1))
    lo, hi = np.percentile(np.concatenate(stats), [2.5, 97.5])
    return float(lo), float(hi)


def _score(correct: np.ndarray, cluster: np.ndarray, n_boot: int, seed: int) -> dict:
    if len(correct) == 0:
        return {"accuracy": None, "ci_low": None, "ci_high": None, "n": 0, "n_items": 0}
    sums, counts = item_sums(correct, cluster)
    lo, hi = bootstrap_ratio(sums, counts, n_boot, seed)
    return {"accuracy": float(correct.mean()), "ci_low": lo, "ci_high": hi,
            "n": len(correct), "n_items": len(sums)}


def sign_flip_test(diffs: np.ndarray, seed: int = 0,
                   n_permutations: int = N_PERMUTATIONS) -> tuple[float | None, str]:
    """Two-sided p-value that per-item differences are symmetric around 0.

    Statistic |sum of diffs|; each item's sign is flipped. With at most ``EXACT_LIMIT`` nonzero
    items every sign pattern is enumerated (p = share of patterns at least as extreme);
    otherwise ``n_permutations`` seeded random patterns, p = (1 + hits) / (1 + n_permutations).
    Returns (p, "exact" | "monte_carlo"); p is None for no items.
    """
    if len(diffs) == 0:
        return None, "exact"
    d = np.asarray(diffs, dtype=float)
    d = d[d != 0]
    observed = abs(d.sum())
    if len(d) == 0:
        return 1.0, "exact"
    tol = 1e-9 * max(1.0, observed)
    if len(d) <= EXACT_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
        stats = np.abs(signs @ d)
        return float((stats >= observed - tol).mean()), "exact"
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_permutations, 2000):
        m = min(2000, n_permutations - start)
        signs = rng.choice((1.0, -1.0), size=(m, len(d)))
        hits += int((np.abs(signs @ d) >= observed - tol).sum())
    return (1 + hits) / (1 + n_permutations), "monte_carlo"


# --- accuracy ----------------------------------------------------------------------------------
def scored_rows(pred: pl.DataFrame, target: pl.DataFrame, policy: str = "keep_all"
                ) -> pl.DataFrame:
    """The rows a policy scores, key-sorted: key, value, prediction, correct (bool)."""
    _check_policy(policy)
    _need(pred, [*KEY, "prediction"], "prediction")
    _need(target, [*KEY, "value"], "target")
    j = (target.select([*KEY, "value"]).filter(pl.col("value").is_not_null())
         .join(pred.select([*KEY, "prediction"]), on=KEY, how="inner"))
    if policy == "compliant":
        j = j.filter(pl.col("prediction").is_not_null())
    return j.with_columns((pl.col("prediction") == pl.col("value")).fill_null(False)
                          .alias("correct")).sort(KEY)


def _accuracy_of_rows(rows: pl.DataFrame, n_boot: int, seed: int) -> dict:
    out = _score(rows["correct"].to_numpy().astype(bool), item_index(rows), n_boot, seed)
    out["n_noncompliant"] = int(rows["prediction"].is_null().sum())
    return out


def accuracy(pred: pl.DataFrame, target: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
             policy: str = "keep_all") -> dict:
    """Micro accuracy over the policy's rows with an item-level bootstrap CI.

    Returns accuracy, ci_low, ci_high, n (rows), n_items, n_noncompliant (rows whose
    hypothetical is non-compliant: counted wrong under keep_all, 0 under compliant).
    """
    return _accuracy_of_rows(scored_rows(pred, target, policy), n_boot, seed)


def _groups(frame: pl.DataFrame) -> list[tuple[tuple[str, str], pl.DataFrame]]:
    """(task, property) groups in key order, each with its rows in key order."""
    return sorted(((key, part.sort(KEY)) for key, part in frame.group_by(["task", "property"])),
                  key=lambda kg: kg[0])


def accuracy_by_group(pred: pl.DataFrame, target: pl.DataFrame, n_boot: int = 1000,
                      seed: int = 0, policy: str = "keep_all") -> pl.DataFrame:
    """``accuracy`` per (task, property), one row each, sorted by task then property."""
    rows = scored_rows(pred, target, policy)
    return pl.DataFrame([{"task": t, "property": p, **_accuracy_of_rows(g, n_boot, seed)}
                         for (t, p), g in _groups(rows)])


# --- mode baseline -----------------------------------------------------------------------------
def mode_of(values: list[str]) -> str | None:
    """Most common value; ties -> the lexicographically smallest (None for no values)."""
    if not values:
        return None
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return min(counts, key=lambda v: (-counts[v], v))


def _mode_hits(rows: pl.DataFrame, column: str = "value") -> pl.DataFrame:
    """``rows`` with a ``mode`` (per (task, property) over these rows) and ``correct`` column."""
    modes = {key: mode_of(g[column].to_list()) for key, g in _groups(rows)}
    mode_col = [modes[(t, p)] for t, p in zip(rows["task"], rows["property"], strict=True)]
    return rows.with_columns(pl.Series("mode", mode_col, dtype=pl.Utf8)).with_columns(
        (pl.col(column) == pl.col("mode")).fill_null(False).alias("correct")).sort(KEY)


def mode_baseline_of_rows(rows: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
                          column: str = "value") -> dict:
    """Accuracy of guessing each (task, property)'s most common ``column`` value, the mode being
    taken on exactly these rows; same shape as ``accuracy``."""
    _need(rows, [*KEY, column], "baseline rows")
    if rows.height == 0:
        return _score(np.zeros(0, bool), np.zeros(0, np.int64), n_boot, seed)
    hits = _mode_hits(rows, column)
    return _score(hits["correct"].to_numpy().astype(bool), item_index(hits), n_boot, seed)


def mode_baseline(target: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
                  pred: pl.DataFrame | None = None, policy: str = "keep_all") -> dict:
    """Mode baseline on the rows ``accuracy(pred, target, policy=policy)`` scores (with
    ``pred`` None: every row with a defined value)."""
    if pred is None:
        rows = target.select([*KEY, "value"]).filter(pl.col("value").is_not_null()).sort(KEY)
    else:
        rows = scored_rows(pred, target, policy)
    return mode_baseline_of_rows(rows, n_boot, seed)


def mode_baseline_by_group(target: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
                           pred: pl.DataFrame | None = None,
                           policy: str = "keep_all") -> pl.DataFrame:
    """``mode_baseline`` per (task, property), with the guessed ``mode`` as a column."""
    if pred is None:
        rows = target.select([*KEY, "value"]).filter(pl.col("value").is_not_null())
    else:
        rows = scored_rows(pred, target, policy)
    return pl.DataFrame([{"task": t, "property": p, "mode": mode_of(g["value"].to_list()),
                          **mode_baseline_of_rows(g, n_boot, seed)}
                         for (t, p), g in _groups(rows)])


def compliance_rate(frame: pl.DataFrame, column: str) -> dict:
    """Share of rows whose ``column`` is not null (or True, for a bool column):
    {"rate", "n"} (rate None for no rows)."""
    _need(frame, [column], "compliance")
    n = frame.height
    col = frame[column]
    ok = int(col.sum()) if col.dtype == pl.Boolean else int(col.is_not_null().sum())
    return {"rate": ok / n if n else None, "n": n}


# --- paired comparisons ------------------------------------------------------------------------
def paired_items(hits_a: np.ndarray, hits_b: np.ndarray, cluster: np.ndarray, n_boot: int,
                 seed: int) -> dict:
    """diff = mean(a) - mean(b) over the same rows; item-level paired bootstrap CI of diff and
    a sign-flip permutation p-value over items."""
    a, b = hits_a.astype(float), hits_b.astype(float)
    if len(a) == 0:
        return {"diff": None, "ci_low": None, "ci_high": None, "p_value": None, "n": 0,
                "n_items": 0, "exact": 1}
    d_sum, counts = item_sums(a - b, cluster)
    lo, hi = bootstrap_ratio(d_sum, counts, n_boot, seed)
    p, how = sign_flip_test(d_sum, seed)
    return {"diff": float(a.mean() - b.mean()), "ci_low": lo, "ci_high": hi, "p_value": p,
            "n": len(a), "n_items": len(d_sum), "exact": int(how == "exact")}


def paired_rows(pred_a: pl.DataFrame, pred_b: pl.DataFrame, target: pl.DataFrame,
                policy: str = "keep_all") -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """The rows two predictors are compared on (a defined target value and a row of both;
    ``compliant``: both answers compliant too), key-sorted, with each one's hits."""
    _check_policy(policy)
    _need(pred_a, [*KEY, "prediction"], "prediction a")
    _need(pred_b, [*KEY, "prediction"], "prediction b")
    t = target.select([*KEY, "value"]).filter(pl.col("value").is_not_null())
    j = (t.join(pred_a.select([*KEY, pl.col("prediction").alias("a")]), on=KEY, how="inner")
          .join(pred_b.select([*KEY, pl.col("prediction").alias("b")]), on=KEY, how="inner"))
    if policy == "compliant":
        j = j.filter(pl.col("a").is_not_null() & pl.col("b").is_not_null())
    j = j.sort(KEY)
    hits_a = (j["a"] == j["value"]).fill_null(False).to_numpy().astype(bool)
    hits_b = (j["b"] == j["value"]).fill_null(False).to_numpy().astype(bool)
    return j, hits_a, hits_b


def paired_test(pred_a: pl.DataFrame, pred_b: pl.DataFrame, target: pl.DataFrame,
                n_boot: int = 1000, seed: int = 0, policy: str = "keep_all") -> dict:
    """Compare two predictors scored against the same target rows (e.g. self vs cross).

    Rows: defined target and a row of both predictors (``compliant``: both hypotheticals
    compliant too). diff = acc(a) - acc(b) with a paired item bootstrap CI; p_value from the
    sign-flip permutation test over items; accuracy_a/b on those rows."""
    j, ca, cb = paired_rows(pred_a, pred_b, target, policy)
    out = paired_items(ca, cb, item_index(j), n_boot, seed)
    out["accuracy_a"] = float(ca.mean()) if len(ca) else None
    out["accuracy_b"] = float(cb.mean()) if len(cb) else None
    return out


# --- behaviour shift ---------------------------------------------------------------------------
def shift_rows(pred_new_model: pl.DataFrame, old_target: pl.DataFrame,
               new_target: pl.DataFrame, policy: str = "keep_all") -> pl.DataFrame:
    """Rows whose old and new object-level values are both defined and differ, joined with the
    shifted model's predictions (``compliant``: non-compliant predictions dropped)."""
    _check_policy(policy)
    _need(pred_new_model, [*KEY, "prediction"], "prediction")
    old = old_target.select([*KEY, pl.col("value").alias("old")])
    new = new_target.select([*KEY, pl.col("value").alias("new")])
    j = (old.join(new, on=KEY, how="inner")
         .filter(pl.col("old").is_not_null() & pl.col("new").is_not_null()
                 & (pl.col("old") != pl.col("new")))
         .join(pred_new_model.select([*KEY, "prediction"]), on=KEY, how="inner"))
    if policy == "compliant":
        j = j.filter(pl.col("prediction").is_not_null())
    return j.with_columns(
        (pl.col("prediction") == pl.col("new")).fill_null(False).alias("hit_new"),
        (pl.col("prediction") == pl.col("old")).fill_null(False).alias("hit_old")).sort(KEY)


def shift_accuracy(pred_new_model: pl.DataFrame, old_target: pl.DataFrame,
                   new_target: pl.DataFrame, n_boot: int = 1000, seed: int = 0,
                   policy: str = "keep_all") -> dict:
    """Does a model whose behaviour was shifted predict its new or its old behaviour?

    On ``shift_rows``: {"new": acc, "old": acc, "new_baseline", "old_baseline" (mode of the
    new/old values on these rows), "diff": paired new - old with CI and sign-flip p_value}."""
    j = shift_rows(pred_new_model, old_target, new_target, policy)
    cluster = item_index(j)
    hit_new = j["hit_new"].to_numpy().astype(bool)
    hit_old = j["hit_old"].to_numpy().astype(bool)
    return {"new": _score(hit_new, cluster, n_boot, seed),
            "old": _score(hit_old, cluster, n_boot, seed),
            "new_baseline": mode_baseline_of_rows(j, n_boot, seed, column="new"),
            "old_baseline": mode_baseline_of_rows(j, n_boot, seed, column="old"),
            "diff": paired_items(hit_new, hit_old, cluster, n_boot, seed),
            "n_noncompliant": int(j["prediction"].is_null().sum())}
