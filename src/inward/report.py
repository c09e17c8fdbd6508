"""``reports/report.md``: the figures, the headline table and a reading of the numbers.

The reading is generated from the metrics, so it always describes the run it sits beside; it
states what was measured and whether the self-vs-cross difference is significant, never more.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import yaml


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _pts(diff: float | None) -> str:
    return "n/a" if diff is None else f"{100 * diff:+.1f} pts"


def _acc(acc: dict) -> str:
    return f"{_pct(acc['accuracy'])} [{_pct(acc['ci_low'])}, {_pct(acc['ci_high'])}], n={acc['n']}"


def headline_table(metrics: dict) -> str:
    head = ("| target M1 | untrained | self-trained | cross-trained (M2) | mode baseline | "
            "self - cross (p) | MAD self / cross |\n|---|---|---|---|---|---|---|\n")
    rows = []
    for m, r in metrics["targets"].items():
        cross = "; ".join(f"{m2}: {_acc(a)}" for m2, a in r.get("cross", {}).items()) or "-"
        test = "; ".join(f"{_pts(t['diff'])} (p={_num(t['p_value'], '.3g')})"
                         for t in r.get("self_vs_cross", {}).values()) or "-"
        cal = r["calibration_mad"]
        mads = f"{_num(cal['self'], '.1f')} / " + (
            ", ".join(_num(v, ".1f") for v in cal.get("cross", {}).values()) or "-")
        rows.append(f"| {m} | {_acc(r['untrained'])} | {_acc(r['self'])} | {cross} | "
                    f"{_acc(r['baseline'])} | {test} | {mads} |")
    return head + "\n".join(rows) + "\n"


def reading(metrics: dict) -> str:
    """One paragraph in plain words, derived from the numbers."""
    sentences = []
    for m, r in metrics["targets"].items():
        s = (f"Trained on its own behaviour, {m} predicts its held-out behaviour with "
             f"{_pct(r['self']['accuracy'])} accuracy (untrained: {_pct(r['untrained']['accuracy'])}; "
             f"always guessing its most common answer: {_pct(r['baseline']['accuracy'])}).")
        for m2, a in r.get("cross", {}).items():
            t = r["self_vs_cross"][m2]
            significant = t["p_value"] is not None and t["p_value"] < 0.05
            verdict = ("significantly better than" if significant and t["diff"] > 0 else
                       "significantly worse than" if significant else
                       "not significantly different from")
            s += (f" {m2}, trained on the same data of {m}'s behaviour, reaches "
                  f"{_pct(a['accuracy'])}: self-prediction is {verdict} cross-prediction "
                  f"(p={_num(t['p_value'], '.3g')}).")
        if "shift" in r:
            sh = r["shift"]
            s += (f" After the behaviour-shift finetune, on the {sh['new']['n']} prompts whose "
                  f"answer property changed, its predictions match the new behaviour "
                  f"{_pct(sh['new']['accuracy'])} of the time and the old one "
                  f"{_pct(sh['old']['accuracy'])} (p={_num(sh['p_value'], '.3g')}).")
        sentences.append(s)
    return " ".join(sentences)


def _models_line(params: dict) -> str:
    return ", ".join(f"`{name}` ({cfg.get('source') or cfg.get('model')})"
                     for name, cfg in params["models"].items())


def write_report(metrics_path: str, tables_dir: str, figures_dir: str, report_path: str,
                 params_file: str) -> None:
    metrics = json.loads(Path(metrics_path).read_text())
    params = yaml.safe_load(Path(params_file).read_text())
    report = Path(report_path)
    fig_rel = Path(os.path.relpath(figures_dir, report.parent))
    groups = pl.read_csv(Path(tables_dir) / "by_task_property.csv")
    group_md = _frame_markdown(groups.select(
        "target", "role", "predictor", "task", "property",
        (pl.col("accuracy") * 100).round(1).alias("accuracy %"), "n").sort(
            "target", "task", "property", "role"))
    figures = [(name, title) for name, title in [
        ("accuracy", "Held-out accuracy"), ("by_task_property", "Per task and property"),
        ("calibration", "Calibration"), ("shift", "Behaviour shift")]
        if (Path(figures_dir) / f"{name}.png").exists()]
    text = [
        "# Introspection study: results",
        "",
        (f"Models: {_models_line(params)}. "
         f"Training tasks: {', '.join(params['tasks']['train'])}; held-out tasks: "
         f"{', '.join(params['tasks']['test'])}; {params['tasks']['n_test_items']} held-out "
         f"items per task; seed {params['base']['seed']}."),
        "",
        "## Reading",
        "",
        reading(metrics),
        "",
        "## Headline numbers (95% bootstrap CIs)",
        "",
        headline_table(metrics),
        *[line for name, title in figures
          for line in (f"## {title}", "", f"![{title}]({fig_rel / (name + '.png')})",
                       f"([interactive]({fig_rel / (name + '.html')}))", "")],
        "## Accuracy per task and property",
        "",
        group_md,
    ]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(text) + "\n")


def _frame_markdown(df: pl.DataFrame) -> str:
    cols = df.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |"
              for row in df.iter_rows()]
    return "\n".join(lines) + "\n"
