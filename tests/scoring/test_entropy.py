"""Entropy-matched comparisons (inward.scoring.entropy), on hand-worked frames and on a study."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest

from hand_study import CALIB, P, write_study
from inward.config.types import CalibrationConfig
from inward.scoring import entropy
from inward.scoring.evaluation import evaluate_study
from inward.study import layout


def rows(task: str, labels: list[str], hits: list[bool], prop: str = "p",
         start: int = 0) -> pl.DataFrame:
    """Scored rows of one (task, property): label i on item ``start + i``, right when hits[i]."""
    ids = [f"{task}-{start + i:03d}" for i in range(len(labels))]
    return pl.DataFrame({"task": [task] * len(labels), "item_id": ids,
                         "property": [prop] * len(labels), "value": labels,
                         "prediction": [v if h else "zz" for v, h in zip(labels, hits,
                                                                         strict=True)],
                         "correct": hits})


def histogram(frame: pl.DataFrame) -> Counter:
    return Counter(zip(frame["task"], frame["property"], frame["value"], strict=True))


def test_both_bars_end_with_one_histogram_and_a_recomputed_mode():
    # the untrained model answers with variety, the self-trained one mostly "cat"
    first = rows("t", ["cat", "dog", "cow", "cat", "dog", "eel"], [True] * 6)
    second = rows("t", ["cat", "cat", "cat", "cat", "dog", "ant"], [False] * 6)
    a, b = entropy.match(first, second)
    # per label the smaller count: cat min(2, 4) = 2, dog min(2, 1) = 1, cow 0, eel 0; ant is
    # not among the first bar's labels
    assert histogram(a) == histogram(b) == Counter({("t", "p", "cat"): 2, ("t", "p", "dog"): 1})
    block, _, _ = entropy.compare(first, second, n_boot=50, seed=0)
    # the mode is taken on the kept rows: "cat" on 2 of 3 (on all rows: 2 of 6 and 4 of 6)
    assert block["first"]["baseline"] == block["second"]["baseline"] == pytest.approx(2 / 3)
    assert block["unadjusted"]["first"]["baseline"] == pytest.approx(2 / 6)
    assert block["unadjusted"]["second"]["baseline"] == pytest.approx(4 / 6)
    assert (block["first"]["accuracy"], block["second"]["accuracy"]) == (1.0, 0.0)
    assert block["first"]["n"] == block["second"]["n"] == 3


def test_only_rows_both_bars_score_and_the_first_bars_top_labels_are_kept():
    labels = [f"w{i:03d}" for i in range(120)]  # 120 labels, each once, w000 twice
    first = rows("t", ["w000", *labels], [True] * 121)
    second = rows("t", ["w000", *labels], [True] * 121)
    a, b = entropy.match(first, second)
    assert a.height == b.height == entropy.ENTROPY_MAX_CATS + 1  # w000 twice, 99 more labels
    assert set(a["value"]) == {"w000", *labels[1:entropy.ENTROPY_MAX_CATS]}
    # a row only one bar scores is left out, whatever its label
    a, b = entropy.match(rows("t", ["x", "x"], [True, True]),
                         rows("t", ["x"], [True], start=1))
    assert a["item_id"].to_list() == b["item_id"].to_list() == ["t-001"]


def test_groups_are_matched_separately_and_the_draw_is_seeded():
    first = pl.concat([rows("t", ["a"] * 5, [True] * 5), rows("u", ["b"] * 3, [True] * 3)])
    second = pl.concat([rows("t", ["a"] * 5, [False, True] * 2 + [False]),
                        rows("u", ["b", "c", "c"], [True] * 3)])
    a, b = entropy.match(first, second)
    assert histogram(a) == histogram(b) == Counter({("t", "p", "a"): 5, ("u", "p", "b"): 1})
    again, _ = entropy.match(first, second)
    assert again.equals(a)


def test_the_study_writes_matched_rows_whose_accuracies_are_the_metrics(tmp_path, monkeypatch):
    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = evaluate_study(models=["m1", "m2"], test_items=layout.items_path("test"), props=[P],
                         calib=CalibrationConfig(n_samples=4, temperature=1.0, **CALIB),
                         n_boot=50, seed=0, metrics_path=layout.METRICS,
                         tables_dir=layout.TABLES)
    table = pl.read_csv(tmp_path / layout.TABLES / "entropy_matched_rows.csv",
                        schema_overrides={"label": pl.Utf8, "prediction": pl.Utf8})
    assert set(table["comparison"]) == {"self_training", "shift",
                                        "self_vs_cross_compliant:m2",
                                        "self_vs_cross_compliant:m1"}
    for (model, comparison), g in table.group_by(["model", "comparison"]):
        first, second = (g.filter(pl.col("bar") == bar) for bar in ("first", "second"))
        assert histogram(first.rename({"label": "value"})) == \
            histogram(second.rename({"label": "value"})), (model, comparison)
        node = out["targets"][model]["entropy_matched"]
        for part in comparison.split(":"):
            node = node[part]
        for bar, part in (("first", first), ("second", second)):
            assert node[bar]["n"] == part.height
            assert node[bar]["accuracy"] == (part["correct"].mean() if part.height else None)
    # hand-worked: m1 untrained predicting m1 on rows 0, 1 (red, blue); m1__self on rows 0, 1,
    # 2 (red, red, green): matched on the shared rows 0, 1, then per label min(count): red 1
    self_training = out["targets"]["m1"]["entropy_matched"]["self_training"]
    assert self_training["first"]["n"] == self_training["second"]["n"] == 1
    assert json.loads((tmp_path / layout.METRICS).read_text())["targets"]["m1"][
        "entropy_matched"] == out["targets"]["m1"]["entropy_matched"]
