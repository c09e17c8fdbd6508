"""Altair figures of a finished study, each saved as self-contained HTML and as PNG.

- ``accuracy``: held-out accuracy (keep-all policy) of untrained, self-trained and
  cross-trained predictors and the mode baseline on the self-trained rows, per target model,
  with 95% item-level bootstrap CIs;
- ``by_task_property``: the same per (task, property);
- ``calibration``: per equal-frequency bin of the object-level probability, the bin's mean
  object-level probability (x) against its mean hypothetical probability (y); the diagonal is
  perfect calibration;
- ``shift``: after the behaviour-shift finetune, agreement with the new vs the old behaviour;
- ``cross_scaling`` (with ``cross.scaling``): cross accuracy against the number of
  cross-prediction examples, beside self-prediction and the mode baseline
  (``inward.reporting.branches``).
"""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import polars as pl

from inward.config.types import PlotsConfig
from inward.reporting.branches import SCALING_FIGURE, SCALING_TABLE, scaling_chart

ROLE_ORDER = ["untrained", "self", "cross", "baseline"]


def _acc_row(target: str, role: str, label: str, acc: dict, prefix: str = "") -> dict:
    return {"target": target, "role": role, "predictor": label,
            "accuracy": acc[f"{prefix}accuracy" if prefix else "accuracy"],
            "ci_low": acc[f"{prefix}ci_low"], "ci_high": acc[f"{prefix}ci_high"],
            "n": acc["n"]}


def accuracy_rows(metrics: dict) -> list[dict]:
    """Keep-all accuracies per role; the baseline is the mode baseline on the self rows."""
    rows = []
    for target, res in metrics["targets"].items():
        rows.append(_acc_row(target, "untrained", f"{target} (untrained)", res["untrained"]))
        rows.append(_acc_row(target, "self", f"{target} (self-trained)", res["self"]))
        for m2, acc in res.get("cross", {}).items():
            rows.append(_acc_row(target, "cross", f"{m2} (cross-trained)", acc))
        base = res["self"]
        rows.append({"target": target, "role": "baseline", "predictor": "mode baseline",
                     "accuracy": base["baseline"], "ci_low": base["baseline_ci_low"],
                     "ci_high": base["baseline_ci_high"], "n": base["n"]})
    return rows


def _bars(df: pl.DataFrame, x: str, color: str, cfg: PlotsConfig, title: str,
          facet: str = "target") -> alt.FacetChart:
    base = alt.Chart(df)
    bars = base.mark_bar().encode(
        x=alt.X(f"{x}:N", title=None, sort=None),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(f"{color}:N", sort=ROLE_ORDER),
        tooltip=[x, color, alt.Tooltip("accuracy:Q", format=".3f"), "n"])
    errs = base.mark_errorbar().encode(x=alt.X(f"{x}:N", sort=None),
                                       y=alt.Y("ci_low:Q", title="accuracy"), y2="ci_high:Q")
    return (alt.layer(bars, errs).properties(width=cfg.width, height=cfg.height)
            .facet(column=alt.Column(f"{facet}:N", title="target model (M1)"))
            .resolve_scale(x="independent")
            .properties(title=title))


def accuracy_chart(metrics: dict, cfg: PlotsConfig):
    df = pl.DataFrame(accuracy_rows(metrics))
    return _bars(df, "predictor", "role", cfg,
                 "Held-out accuracy at predicting M1's behaviour (95% CI)")


def by_group_chart(groups: pl.DataFrame, cfg: PlotsConfig):
    df = groups.with_columns((pl.col("task") + "/" + pl.col("property")).alias("task/property"))
    base = alt.Chart(df)
    bars = base.mark_bar().encode(
        x=alt.X("role:N", title=None), y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
        color="role:N", tooltip=["task/property", "role", "predictor",
                                 alt.Tooltip("accuracy:Q", format=".3f"), "n"])
    errs = base.mark_errorbar().encode(x="role:N", y="ci_low:Q", y2="ci_high:Q")
    return (alt.layer(bars, errs).properties(width=90, height=cfg.height // 2)
            .facet(row=alt.Row("target:N"), column=alt.Column("task/property:N"))
            .properties(title="Accuracy per held-out task and property"))


def calibration_chart(bins: pl.DataFrame, cfg: PlotsConfig):
    line = alt.Chart().mark_line(point=True).encode(
        x=alt.X("object_mean:Q", title="object-level probability (bin mean)",
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("hypo_mean:Q", title="hypothetical-level probability (bin mean)",
                scale=alt.Scale(domain=[0, 1])),
        color="role:N", tooltip=["role", "hypo_mean", "object_mean", "n"])
    diag = alt.Chart().mark_rule(strokeDash=[4, 4], color="gray").encode(
        x=alt.datum(0.0), y=alt.datum(0.0), x2=alt.datum(1.0), y2=alt.datum(1.0))
    return (alt.layer(diag, line, data=bins).properties(width=cfg.height, height=cfg.height)
            .facet(column=alt.Column("target:N", title="target model (M1)"))
            .properties(title="Calibration: predicted vs actual behaviour probability "
                        "(sampled)"))


def shift_chart(metrics: dict, cfg: PlotsConfig):
    rows = []
    for target, res in metrics["targets"].items():
        if "shift" not in res:
            continue
        for which in ("new", "old"):
            acc = res["shift"][which]
            rows.append({"target": target, "behaviour": f"{which} behaviour", **{
                k: acc[k] for k in ("accuracy", "ci_low", "ci_high", "n")}})
    if not rows:
        return None
    return _bars(pl.DataFrame(rows), "behaviour", "behaviour", cfg,
                 "After the behaviour shift: whose behaviour do the predictions track?")


def save(chart, stem: Path, scale: float) -> None:
    chart.save(str(stem.with_suffix(".html")), inline=True)  # opens offline
    chart.save(str(stem.with_suffix(".png")), scale_factor=scale)


def make_figures(metrics_path: str, tables_dir: str, figures_dir: str,
                 cfg: PlotsConfig) -> list[Path]:
    metrics = json.loads(Path(metrics_path).read_text())
    tables = Path(tables_dir)
    out = Path(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts = {
        "accuracy": accuracy_chart(metrics, cfg),
        "by_task_property": by_group_chart(pl.read_csv(tables / "by_task_property.csv"), cfg),
        "calibration": calibration_chart(pl.read_csv(tables / "calibration_bins.csv"), cfg),
        "shift": shift_chart(metrics, cfg),
    }
    if (tables / SCALING_TABLE).exists():  # the optional cross.scaling branch
        charts[SCALING_FIGURE] = scaling_chart(pl.read_csv(tables / SCALING_TABLE), cfg)
    written = []
    for name, chart in charts.items():
        if chart is not None:
            save(chart, out / name, cfg.scale)
            written.append(out / f"{name}.png")
    return written
