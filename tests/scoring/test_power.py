"""Items needed to detect a self-vs-cross difference at 80% power (alpha 0.05, two-sided),
against hand computations of docs/METRICS.md's formula."""

import math

import numpy as np
import polars as pl
import pytest

from inward.scoring.power import items_needed, paired_power

Z = 1.959964 + 0.841621   # z_0.975 + z_0.8


def test_one_row_per_item_by_hand():
    # d = [1, 1, 0, 0]: D = 0.5; residuals +-0.5, variance (4 * 0.25) / 3 = 1/3;
    # n = Z^2 * (1/3) / 0.25 = 10.465 -> 11 items, 6 per task of 2
    out = items_needed(np.array([1.0, 1, 0, 0]), np.array([1.0, 1, 1, 1]), n_tasks=2)
    assert out["diff"] == 0.5
    assert out["item_sd"] == pytest.approx(math.sqrt(1 / 3))
    assert Z ** 2 * (1 / 3) / 0.25 == pytest.approx(10.465, abs=1e-3)
    assert out["n_items_needed"] == 11 and out["n_items_per_task"] == 6
    assert out["detectable_diff"] == pytest.approx(Z * math.sqrt(1 / 3) / 2, abs=1e-5)


def test_items_with_several_rows_by_hand():
    # item 1: 2 rows, both A right and B wrong (d = 2); item 2: 1 row, tie (d = 0)
    # D = 2/3; residuals 2 - 4/3 = 2/3 and -2/3; variance 8/9; mean rows 1.5
    # s = sqrt(8/9) / 1.5 = 0.62854; n = (Z * s / D)^2 = 6.977 -> 7
    out = items_needed(np.array([2.0, 0]), np.array([2.0, 1]), n_tasks=1)
    assert out["diff"] == pytest.approx(2 / 3)
    assert out["item_sd"] == pytest.approx(math.sqrt(8 / 9) / 1.5)
    assert (Z * math.sqrt(8 / 9) / 1.5 / (2 / 3)) ** 2 == pytest.approx(6.977, abs=1e-3)
    assert out["n_items_needed"] == 7 and out["n_items_per_task"] == 7


def test_no_difference_or_too_few_items_give_no_number():
    assert items_needed(np.array([1.0, -1]), np.array([1.0, 1]), 1)["n_items_needed"] is None
    one = items_needed(np.array([1.0]), np.array([1.0]), 1)
    assert one["diff"] == 1.0 and one["item_sd"] is None and one["n_items_needed"] is None
    assert items_needed(np.array([]), np.array([]), 0)["diff"] is None
    # every item the same: no spread, the floor of two items
    assert items_needed(np.array([1.0, 1, 1]), np.array([1.0, 1, 1]), 1)["n_items_needed"] == 2


def frame(rows, column):
    return pl.DataFrame(rows, schema={"task": pl.Utf8, "item_id": pl.Utf8,
                                      "property": pl.Utf8, column: pl.Utf8}, orient="row")


def test_paired_power_uses_the_paired_test_rows():
    truth = frame([("t", "1", "p", "x"), ("t", "1", "q", "y"), ("t", "2", "p", "x"),
                   ("u", "3", "p", "z"), ("u", "4", "p", None)], "value")
    a = frame([("t", "1", "p", "x"), ("t", "1", "q", "y"), ("t", "2", "p", "w"),
               ("u", "3", "p", None), ("u", "4", "p", "z")], "prediction")
    b = frame([("t", "1", "p", "w"), ("t", "1", "q", "w"), ("t", "2", "p", "w"),
               ("u", "3", "p", "z"), ("u", "4", "p", "z")], "prediction")
    keep = paired_power(a, b, truth, "keep_all")
    # items 1 (d 2, 2 rows), 2 (d 0), 3 (d -1: A non-compliant counts as wrong); 4 undefined
    direct = items_needed(np.array([2.0, 0, -1]), np.array([2.0, 1, 1]), n_tasks=2)
    assert keep == direct and keep["n_items"] == 3 and keep["n_tasks"] == 2
    compliant = paired_power(a, b, truth, "compliant")   # item 3 leaves: A non-compliant
    assert compliant == items_needed(np.array([2.0, 0]), np.array([2.0, 1]), n_tasks=1)
