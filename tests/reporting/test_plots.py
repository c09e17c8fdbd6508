"""Figures from a small hand-made metrics dict and tables."""

import json

import polars as pl
import pytest

from inward.config.types import PlotsConfig
from inward.reporting import plots

CFG = PlotsConfig(width=120, height=80, scale=1)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def acc(a, lo, hi, n, base=0.6):
    return {"accuracy": a, "ci_low": lo, "ci_high": hi, "n": n, "baseline": base,
            "baseline_ci_low": base - 0.3, "baseline_ci_high": base + 0.3}


METRICS = {"targets": {
    "m1": {"untrained": acc(0.5, 0.2, 0.8, 10), "self": acc(0.7, 0.4, 0.9, 10),
           "cross": {"m2": acc(0.4, 0.1, 0.7, 10)},
           "shift": {"new": acc(0.75, 0.5, 1.0, 4), "old": acc(0.25, 0.0, 0.5, 4)}},
    "m2": {"untrained": acc(0.3, 0.1, 0.5, 10), "self": acc(None, None, None, 0, 0.9),
           "cross": {"m1": acc(0.2, 0.0, 0.4, 10)}},
}}


def row(target, role, predictor, a):
    return {"target": target, "role": role, "predictor": predictor, **{
        k: a[k] for k in ("accuracy", "ci_low", "ci_high", "n")}}


def baseline(target, a):
    return {"target": target, "role": "baseline", "predictor": "mode baseline",
            "accuracy": a["baseline"], "ci_low": a["baseline_ci_low"],
            "ci_high": a["baseline_ci_high"], "n": a["n"]}


def test_accuracy_rows():
    t1, t2 = METRICS["targets"]["m1"], METRICS["targets"]["m2"]
    assert plots.accuracy_rows(METRICS) == [
        row("m1", "untrained", "m1 (untrained)", t1["untrained"]),
        row("m1", "self", "m1 (self-trained)", t1["self"]),
        row("m1", "cross", "m2 (cross-trained)", t1["cross"]["m2"]),
        baseline("m1", t1["self"]),            # the mode baseline on the self rows
        row("m2", "untrained", "m2 (untrained)", t2["untrained"]),
        row("m2", "self", "m2 (self-trained)", t2["self"]),
        row("m2", "cross", "m1 (cross-trained)", t2["cross"]["m1"]),
        baseline("m2", t2["self"]),
    ]


def test_accuracy_rows_without_cross():
    single = {"targets": {"m": {k: v for k, v in METRICS["targets"]["m1"].items()
                                if k != "cross"}}}
    assert [r["role"] for r in plots.accuracy_rows(single)] == ["untrained", "self", "baseline"]


def test_shift_chart_only_with_shift():
    assert plots.shift_chart({"targets": {"m2": METRICS["targets"]["m2"]}}, CFG) is None
    assert plots.shift_chart(METRICS, CFG) is not None


def write_inputs(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(METRICS))
    tables = tmp_path / "tables"
    tables.mkdir()
    pl.DataFrame({"task": ["colours", "colours", "prose"], "property": ["first_word"] * 3,
                  "accuracy": [0.5, 0.75, 1.0], "ci_low": [0.2, 0.5, 1.0],
                  "ci_high": [0.8, 1.0, 1.0], "n": [4, 4, 2],
                  "target": ["m1", "m1", "m2"], "role": ["untrained", "self", "self"],
                  "predictor": ["m1", "m1__self", "m2__self"]}
                 ).write_csv(tables / "by_task_property.csv")
    pl.DataFrame({"target": ["m1", "m1", "m2"], "role": ["self", "self", "untrained"],
                  "bin": [0, 1, 0], "object_mean": [0.3, 0.6, 0.5],
                  "hypo_mean": [0.2, 0.8, 0.5], "n": [2, 2, 1]}
                 ).write_csv(tables / "calibration_bins.csv")
    return metrics, tables


@pytest.mark.parametrize("full", [True, False])
def test_make_figures_writes_png_and_html(tmp_path, full):
    metrics, tables = write_inputs(tmp_path)
    names = ["accuracy", "by_task_property", "calibration"]
    if full:
        names.append("shift")
    else:  # no shift finetune, and no calibration pair (bins table with its header only)
        data = json.loads(metrics.read_text())
        del data["targets"]["m1"]["shift"]
        metrics.write_text(json.dumps(data))
        bins = tables / "calibration_bins.csv"
        bins.write_text(bins.read_text().splitlines()[0] + "\n")
    out = tmp_path / "figures"
    written = plots.make_figures(str(metrics), str(tables), str(out), CFG)
    assert written == [out / f"{n}.png" for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("png", "html"))
    for n in names:
        png = (out / f"{n}.png").read_bytes()
        assert png.startswith(PNG_MAGIC) and len(png) > 1000
        html = (out / f"{n}.html").read_text()
        assert "<html" in html.lower() and "vega" in html.lower()
