"""How many held-out items a self-vs-cross difference needs to be detected (docs/METRICS.md,
"Power").

The unit is the item, as for every interval of the study: per item i of the paired rows (the
rows of ``metrics.paired_test``), d_i = hits of A minus hits of B over its m_i rows. The
observed difference is D = sum(d) / sum(m) and an item's spread around it is
s^2 = var_i(d_i - D * m_i) / mean(m)^2 (ddof 1; the variance of a ratio estimator, in units
of one row). A two-sided test at level alpha detects D with probability ``power`` from

    n = ((z_{1 - alpha/2} + z_{power}) * s / D)^2

items (normal approximation). ``n_items_per_task`` divides n over the tasks the rows come
from: the value of ``tasks.n_test_items`` that would give n items in all.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import polars as pl

from inward.scoring.metrics import ITEM, item_index, item_sums, paired_rows

ALPHA = 0.05
POWER = 0.8


def items_needed(diffs: np.ndarray, rows: np.ndarray, n_tasks: int, alpha: float = ALPHA,
                 power: float = POWER) -> dict:
    """The module's formula on per-item sums ``diffs`` (d_i) and row counts ``rows`` (m_i).

    ``n_items_needed`` is None when there is no difference to detect (D = 0) or fewer than two
    items to measure the spread; it is at least 2 (one item has no variance)."""
    n = len(diffs)
    out = {"alpha": alpha, "power": power, "n_items": n, "n_tasks": n_tasks, "diff": None,
           "item_sd": None, "n_items_needed": None, "n_items_per_task": None,
           "detectable_diff": None}
    if n == 0:
        return out
    d, m = np.asarray(diffs, dtype=float), np.asarray(rows, dtype=float)
    diff = float(d.sum() / m.sum())
    out["diff"] = diff
    if n < 2:
        return out
    sd = float(np.sqrt(np.var(d - diff * m, ddof=1)) / m.mean())
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    out["item_sd"] = sd
    out["detectable_diff"] = z * sd / math.sqrt(n)  # the smallest |D| the study has now
    if diff != 0:
        needed = max(2, math.ceil((z * sd / diff) ** 2))
        out["n_items_needed"] = needed
        out["n_items_per_task"] = math.ceil(needed / max(n_tasks, 1))
    return out


def paired_power(pred_a: pl.DataFrame, pred_b: pl.DataFrame, target: pl.DataFrame,
                 policy: str = "keep_all", alpha: float = ALPHA, power: float = POWER) -> dict:
    """``items_needed`` for A minus B on the rows ``metrics.paired_test`` compares: a defined
    target value and a row of both predictors (``compliant``: both answers compliant)."""
    j, hits_a, hits_b = paired_rows(pred_a, pred_b, target, policy)
    d_sum, counts = item_sums(hits_a.astype(float) - hits_b.astype(float), item_index(j))
    n_tasks = j.select(ITEM[0]).n_unique() if j.height else 0
    return items_needed(d_sum, counts, n_tasks, alpha, power)
