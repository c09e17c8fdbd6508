"""report.md from a small hand-made metrics dict, tables and params."""

import copy
import json

import polars as pl
import yaml

from inward.reporting import report


def acc(a, lo, hi, n, base=0.6, comp=None):
    """A role block: keep-all numbers, compliant numbers (default: the same) and baselines."""
    ca, clo, chi, cn = comp or (a, lo, hi, n)
    return {"accuracy": a, "ci_low": lo, "ci_high": hi, "n": n,
            "accuracy_compliant": ca, "ci_low_compliant": clo, "ci_high_compliant": chi,
            "n_compliant": cn, "compliance": None if not n else cn / n,
            "baseline": base, "baseline_ci_low": None if base is None else base - 0.2,
            "baseline_ci_high": None if base is None else base + 0.2,
            "baseline_compliant": base, "baseline_ci_low_compliant": None,
            "baseline_ci_high_compliant": None}


def paired(diff, lo, hi, p, n):
    return {"diff": diff, "ci_low": lo, "ci_high": hi, "p_value": p, "n": n}


def mad(m, lo, hi):
    return {"mad": m, "ci_low": lo, "ci_high": hi, "n_pairs": 10, "n_items": 5}


METRICS = {"targets": {"m1": {
    "untrained": acc(0.5, 0.25, 0.75, 8),
    "self": acc(2 / 3, 0.5, 0.875, 9, comp=(0.75, 0.5, 1.0, 8)),
    "cross": {"m2": acc(1 / 3, 0.125, 0.5, 9)},
    "self_vs_cross": {"m2": {"keep_all": paired(1 / 3, 0.1, 0.5, 0.0123456, 9),
                             "compliant": paired(0.25, 0.0, 0.5, 0.5, 8)}},
    "calibration_mad": {"untrained": mad(16.6667, 10, 20), "self": mad(20.04, 12.0, 30.0),
                        "cross": {"m2": mad(100.0, 90.0, 100.0)}},
    "shift": {"new": acc(1.0, 1.0, 1.0, 2), "old": acc(0.0, 0.0, 0.0, 2),
              "new_minus_old": {"keep_all": paired(1.0, 1.0, 1.0, 0.5, 2),
                                "compliant": paired(1.0, 1.0, 1.0, 0.5, 2)}},
    "groups": {"n": 4, "informative": 3},
}}, "agents": {"m1": {"object_compliance": 0.9, "demonstration_leak": 0.05,
                      "top_answer_share": {"colours": 0.25}, "hypothetical_compliance": 0.8},
               "m2__cross__m1": {"hypothetical_compliance": 1.0}}}
PARAMS = {"base": {"seed": 7},
          "models": {"m1": {"backend": "local", "source": "embedded:tiny"},
                     "m2": {"backend": "openai", "model": "gpt-x"}},
          "tasks": {"train": ["animals", "arithmetic_mc"], "test": ["colours", "prose"],
                    "n_test_items": 20}}


def test_headline_table_formats_numbers():
    table = report.headline_table(METRICS)
    lines = table.strip().splitlines()
    assert lines[0].startswith("| target M1 | untrained | self-trained |")
    assert len(lines) == 3
    assert lines[2] == (
        "| m1 | 50.0% [25.0%, 75.0%], n=8 | 66.7% [50.0%, 87.5%], n=9 | "
        "m2: 33.3% [12.5%, 50.0%], n=9 | 60.0% [40.0%, 80.0%] | "
        "+33.3 pts [+10.0 pts, +50.0 pts] (p=0.0123) | 20.0 [12.0, 30.0] / 100.0 [90.0, 100.0] "
        "| 3 of 4 |")
    compliant = report.headline_table(METRICS, "_compliant").strip().splitlines()[2]
    assert "| 75.0% [50.0%, 100.0%], n=8 |" in compliant and "(p=0.5)" in compliant


def test_reading_verdicts():
    text = report.reading(METRICS)
    assert "m1 predicts its held-out behaviour with 66.7% accuracy" in text
    assert "(untrained: 50.0%; always guessing its most common answer: 60.0%)" in text
    assert "3 of 4 task/property groups are informative" in text
    assert "m2, trained on the same data of m1's behaviour, reaches 33.3%" in text
    assert "self-prediction is significantly better than cross-prediction (p=0.0123)" in text
    assert ("on the 2 prompts whose answer property changed, its predictions match the new "
            "behaviour 100.0% of the time and the old one 0.0% (p=0.5)") in text
    worse = copy.deepcopy(METRICS)
    worse["targets"]["m1"]["self_vs_cross"]["m2"]["keep_all"]["diff"] = -0.2
    assert "significantly worse than" in report.reading(worse)
    same = copy.deepcopy(METRICS)
    same["targets"]["m1"]["self_vs_cross"]["m2"]["keep_all"]["p_value"] = 0.2
    assert "not significantly different from" in report.reading(same)


def undefined_metrics():
    """A study where nothing could be scored: every accuracy, diff and MAD is None."""
    m = copy.deepcopy(METRICS)
    r = m["targets"]["m1"]
    for name in ("untrained", "self"):
        r[name] = acc(None, None, None, 0, base=None, comp=(None, None, None, 0))
    r["cross"]["m2"] = acc(None, None, None, 0, base=None, comp=(None, None, None, 0))
    r["shift"]["new"] = r["shift"]["old"] = r["self"]
    none = paired(None, None, None, None, 0)
    r["self_vs_cross"]["m2"] = {"keep_all": none, "compliant": none}
    r["shift"]["new_minus_old"] = {"keep_all": none, "compliant": none}
    r["calibration_mad"] = {"untrained": mad(None, None, None), "self": mad(None, None, None),
                            "cross": {"m2": mad(None, None, None)}}
    return m


def test_none_metrics_do_not_crash():
    m = undefined_metrics()
    row = report.headline_table(m).strip().splitlines()[2]
    assert row.startswith("| m1 | n/a [n/a, n/a], n=0 | n/a [n/a, n/a], n=0 |")
    assert row.endswith("| n/a [n/a, n/a] (p=n/a) | n/a / n/a | 3 of 4 |")
    assert "not significantly different from" in report.reading(m)


def test_agents_table():
    lines = report.agents_table(METRICS).strip().splitlines()
    assert lines[2] == "| m1 | 90.0% | 80.0% | 5.0% | colours: 25.0% |"
    assert lines[3] == "| m2__cross__m1 | n/a | 100.0% | n/a | - |"


def write_inputs(tmp_path, metrics):
    (tmp_path / "reports" / "tables").mkdir(parents=True)
    (tmp_path / "reports" / "figures").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    pl.DataFrame({"task": ["prose", "colours", "colours"],
                  "property": ["first_word", "first_word", "first_word"],
                  "accuracy": [0.25, 0.5, 2 / 3], "ci_low": [0.0, 0.1, 0.3],
                  "ci_high": [0.5, 0.9, 1.0], "n": [4, 4, 3], "n_noncompliant": [0, 1, 0],
                  "target": ["m1", "m1", "m1"], "role": ["self", "untrained", "self"],
                  "predictor": ["m1__self", "m1", "m1__self"]}
                 ).write_csv(tmp_path / "reports" / "tables" / "by_task_property.csv")
    pl.DataFrame({"target": ["m1"], "task": ["colours"], "property": ["second_word"],
                  "mode_share": [1.0], "informative": [False]}
                 ).write_csv(tmp_path / "reports" / "tables" / "informative_groups.csv")


def call(tmp_path):
    out = tmp_path / "reports" / "report.md"
    report.write_report(str(tmp_path / "reports" / "metrics.json"),
                        str(tmp_path / "reports" / "tables"),
                        str(tmp_path / "reports" / "figures"), str(out),
                        str(tmp_path / "params.yaml"))
    return out.read_text()


def test_write_report(tmp_path):
    write_inputs(tmp_path, METRICS)
    for name in ("accuracy", "shift"):  # only figures that exist are linked
        (tmp_path / "reports" / "figures" / f"{name}.png").write_bytes(b"\x89PNG")
    md = call(tmp_path)
    assert md.startswith("# Introspection study: results\n")
    assert ("Models: `m1` (embedded:tiny), `m2` (gpt-x). Training tasks: animals, "
            "arithmetic_mc; held-out tasks: colours, prose; 20 held-out items per task; "
            "seed 7.") in md
    assert report.reading(METRICS) in md
    assert report.headline_table(METRICS) in md
    assert report.headline_table(METRICS, "_compliant") in md
    assert report.agents_table(METRICS) in md
    assert "| m1 | colours | second_word | 1.0 | False |" in md
    assert "![Held-out accuracy](figures/accuracy.png)" in md
    assert "([interactive](figures/shift.html))" in md
    assert "## Behaviour shift" in md and "## Calibration" not in md
    # per-group table: accuracy in percent, rounded, sorted by target, task, property, role
    table = md.split("## Accuracy per task and property\n\n")[1].strip().splitlines()
    assert table == ["| target | role | predictor | task | property | accuracy % | n |",
                     "|---|---|---|---|---|---|---|",
                     "| m1 | self | m1__self | colours | first_word | 66.7 | 3 |",
                     "| m1 | untrained | m1 | colours | first_word | 50.0 | 4 |",
                     "| m1 | self | m1__self | prose | first_word | 25.0 | 4 |"]


def test_write_report_with_undefined_metrics(tmp_path):
    write_inputs(tmp_path, undefined_metrics())
    md = call(tmp_path)
    assert "n/a [n/a, n/a], n=0" in md
    assert "## Held-out accuracy" not in md   # no figures


def test_entropy_table():
    bar = {"accuracy": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 8, "n_items": 4,
           "baseline": 0.375}
    block = {"first": bar, "second": {**bar, "accuracy": 0.625},
             "unadjusted": {"first": {**bar, "n": 12}, "second": {**bar, "n": 10}}}
    metrics = {"targets": {"m1": {"entropy_matched": {
        "self_training": block, "self_vs_cross_compliant": {"m2": block}}}}}
    text = report.entropy_table(metrics)
    lines = text.splitlines()
    assert len(lines) == 4  # header, rule, two comparisons
    assert lines[2].startswith("| m1 | self_training | untrained M1 on M1: 50.0% [25.0%, 75.0%]")
    assert "M1__self on itself: 62.5% [25.0%, 75.0%] (mode 37.5%), n=8" in lines[2]
    assert "| m1 | self_vs_cross_compliant:m2 | M1__self: " in lines[3]
    assert "cross m2: 62.5%" in lines[3] and "n=12" in lines[3] and "n=10" in lines[3]
    assert report.entropy_table({"targets": {"m1": {}}}) == ""
