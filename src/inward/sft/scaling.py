"""Shares of the cross-prediction examples for the data-scaling branch (``cross.scaling``).

Every share of one target's examples is cut from the same seeded order, so the subsets are
nested: the examples of share 0.25 are among those of share 0.5, and a bigger share only adds
examples. A share k keeps floor(k * n + 0.5) of the n examples, at least one.
"""

from __future__ import annotations

import random


def subset_size(n: int, share: float) -> int:
    """How many of ``n`` examples a share keeps."""
    if not 0 < share <= 1:
        raise ValueError(f"share {share!r} is out of range; allowed: 0 < share <= 1")
    return min(n, max(1, int(share * n + 0.5))) if n else 0  # halves round up


def nested_subset(examples: list[dict], share: float, seed: int) -> list[dict]:
    """The first ``subset_size`` examples in an order fixed by ``seed`` alone (not by the
    share), in that order."""
    order = list(range(len(examples)))
    random.Random(f"inward-scaling:{seed}").shuffle(order)
    return [examples[i] for i in order[:subset_size(len(examples), share)]]
