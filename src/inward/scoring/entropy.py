"""Entropy-matched comparisons: two bars scored on rows with the same label histogram.

A comparison whose two bars are scored against *different* behaviour can be won by the bar
whose behaviour is easier to guess (a self-trained model often answers with less variety than
the untrained one). The official code (``evals/analysis/james/james_analysis.py``:
``adjust_for_entropy``, ``take_category_limit``, ``ENTROPY_MAX_CATS``) rebalances each
(task, property) group before comparing:

1. keep the rows (item, property) that both bars score;
2. take the first bar's ``ENTROPY_MAX_CATS`` most common labels (the object-level values it
   is scored against); a label only the second bar has, or one beyond the top 100, is dropped;
3. for each label keep, in both bars, as many rows as the smaller of the two counts, chosen
   by a shuffle seeded with ``"42"`` (each bar's rows of that label shuffled on their own);
4. the mode baseline is recomputed on the rows kept.

Both bars then have identical label histograms, so neither is easier to guess. Self against
cross under keep-all is scored against one target on the same rows: there the adjustment keeps
every row and changes nothing, which is why inward reports it only under the compliant policy,
where the two predictors' compliant rows differ.
"""

from __future__ import annotations

import random
from collections import Counter

import polars as pl

from inward.scoring import metrics
from inward.scoring.metrics import KEY

ENTROPY_MAX_CATS = 100
"""Labels per (task, property) kept from the first bar, most common first (official value)."""
SEED = "42"
"""The official shuffle seed (``take_category_limit``)."""


def _ranked(counts: Counter) -> list[tuple[str, int]]:
    """Labels by count, most common first; ties by label (the official order of equal
    counts is that of a dict, which is not defined here)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def match(first: pl.DataFrame, second: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of each bar that an entropy-matched comparison keeps.

    ``first`` and ``second``: scored rows (``metrics.scored_rows``: key, ``value`` the label,
    ``prediction``, ``correct``). Returns both bars' kept rows, key-sorted."""
    shared = first.select(KEY).join(second.select(KEY), on=KEY, how="inner")
    first = first.join(shared, on=KEY, how="semi").sort(KEY)
    second = second.join(shared, on=KEY, how="semi").sort(KEY)
    kept_first, kept_second = [], []
    for (task, prop), a in metrics._groups(first):
        b = second.filter((pl.col("task") == task) & (pl.col("property") == prop)).sort(KEY)
        counts_b = Counter(b["value"].to_list())
        for label, n_a in _ranked(Counter(a["value"].to_list()))[:ENTROPY_MAX_CATS]:
            limit = min(n_a, counts_b.get(label, 0))
            for bar, kept in ((a, kept_first), (b, kept_second)):
                rows = bar.filter(pl.col("value") == label).rows(named=True)
                random.Random(SEED).shuffle(rows)
                kept += rows[:limit]
    schema = first.schema
    return (pl.DataFrame(kept_first, schema=schema).sort(KEY),
            pl.DataFrame(kept_second, schema=schema).sort(KEY))


def bar_block(rows: pl.DataFrame, n_boot: int, seed: int) -> dict:
    """Accuracy with its item-level CI and the mode baseline, both on ``rows``."""
    acc = metrics._accuracy_of_rows(rows, n_boot, seed)
    base = metrics.mode_baseline_of_rows(rows, n_boot, seed)
    return {"accuracy": acc["accuracy"], "ci_low": acc["ci_low"], "ci_high": acc["ci_high"],
            "n": acc["n"], "n_items": acc["n_items"], "baseline": base["accuracy"]}


def compare(first: pl.DataFrame, second: pl.DataFrame, n_boot: int, seed: int
            ) -> tuple[dict, pl.DataFrame, pl.DataFrame]:
    """({"first": bar, "second": bar, "unadjusted": {...}}, kept first rows, kept second rows)
    for two bars' scored rows; ``unadjusted`` gives both bars on all their rows."""
    kept_a, kept_b = match(first, second)
    block = {"first": bar_block(kept_a, n_boot, seed), "second": bar_block(kept_b, n_boot, seed),
             "unadjusted": {"first": bar_block(first, n_boot, seed),
                            "second": bar_block(second, n_boot, seed)}}
    return block, kept_a, kept_b
