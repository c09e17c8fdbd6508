"""The report's power table and the optional branches' table, figure and held-in scores."""

from pathlib import Path

import polars as pl

from inward.config.types import PlotsConfig
from inward.reporting import branches

CFG = PlotsConfig(width=120, height=80, scale=1)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def acc(a, lo, hi, comp=None, base=0.6):
    return {"accuracy": a, "ci_low": lo, "ci_high": hi, "accuracy_compliant": comp,
            "baseline": base}


def power(diff, needed, per_task, sd=0.5, n=12, smallest=0.4):
    return {"diff": diff, "n_items": n, "n_tasks": 2, "item_sd": sd, "n_items_needed": needed,
            "n_items_per_task": per_task, "detectable_diff": smallest, "alpha": 0.05,
            "power": 0.8}


METRICS = {"targets": {"m1": {
    "power": {"self_vs_cross": {"m2": {"keep_all": power(0.25, 32, 16),
                                       "compliant": power(0.0, None, None)}}},
    "cross_scaling": {"m2": {
        "points": {"0.25": {"share": 0.25, "n_examples": 5, **acc(0.3, 0.1, 0.5, 0.35)},
                   "0.5": {"share": 0.5, "n_examples": 10, **acc(0.4, 0.2, 0.6, 0.45)}},
        "full": {"share": 1.0, "n_examples": 20, **acc(0.45, 0.25, 0.65, 0.5)},
        "self": {"accuracy": 0.7, "baseline": 0.6}}},
    "held_in": {"n_items": 4, "untrained": acc(0.5, 0.25, 0.75), "self": acc(0.75, 0.5, 1.0),
                "cross": {"m2": acc(0.25, 0.0, 0.5)},
                "power": {"self_vs_cross": {"m2": {"keep_all": power(0.5, 6, 3)}}}},
}}}


def test_power_table_rows_for_held_out_and_held_in():
    lines = branches.power_table(METRICS).strip().splitlines()
    assert lines[2] == ("| m1 | m2 | held-out tasks | keep_all | +25.0 pts | 12 | 0.500 | 32 | "
                        "16 | 40.0 pts |")
    assert lines[3] == ("| m1 | m2 | held-out tasks | compliant | +0.0 pts | 12 | 0.500 | n/a | "
                        "n/a | 40.0 pts |")
    assert lines[4].startswith("| m1 | m2 | held-in items | keep_all | +50.0 pts |")


def test_scaling_and_held_in_tables():
    rows = branches.scaling_table(METRICS).strip().splitlines()[2:]
    assert rows == [
        "| m1 | m2 | 0.25 | 5 | 30.0% [10.0%, 50.0%] | 35.0% | 70.0% | 60.0% |",
        "| m1 | m2 | 0.5 | 10 | 40.0% [20.0%, 60.0%] | 45.0% | 70.0% | 60.0% |",
        "| m1 | m2 | 1 | 20 | 45.0% [25.0%, 65.0%] | 50.0% | 70.0% | 60.0% |"]
    held = branches.held_in_table(METRICS).strip().splitlines()[2]
    assert held == ("| m1 | 4 | 50.0% [25.0%, 75.0%] | 75.0% [50.0%, 100.0%] | "
                    "m2: 25.0% [0.0%, 50.0%] | 60.0% |")


def test_sections_appear_only_with_their_branch(tmp_path):
    text = "\n".join(branches.report_sections(METRICS, str(tmp_path), Path("figures")))
    assert "## Cross-prediction against training data" in text and "## Held-in items" in text
    assert "cross_scaling.png" not in text   # no figure drawn yet
    plain = {"targets": {"m1": {"power": METRICS["targets"]["m1"]["power"]}}}
    text = "\n".join(branches.report_sections(plain, str(tmp_path), Path("figures")))
    assert "## Power" in text and "Cross-prediction against" not in text and "Held-in" not in text


def test_the_scaling_figure_is_drawn(tmp_path):
    from inward.reporting.plots import save

    table = pl.DataFrame([
        {"target": "m1", "cross_model": "m2", "agent": a, "share": s, "n_examples": n,
         "accuracy": x, "ci_low": x - 0.1, "ci_high": x + 0.1, "accuracy_compliant": x,
         "self_accuracy": 0.7, "baseline": 0.6}
        for a, s, n, x in [("m2__cross__m1@0.5", 0.5, 10, 0.4), ("m2__cross__m1", 1.0, 20, 0.45)]])
    save(branches.scaling_chart(table, CFG), tmp_path / "cross_scaling", CFG.scale)
    assert (tmp_path / "cross_scaling.png").read_bytes().startswith(PNG_MAGIC)
    assert "n_examples" in (tmp_path / "cross_scaling.html").read_text()
