"""The report's parts for the power of the self-vs-cross comparisons and for the optional
branches: the cross-data scaling figure and table (``cross.scaling``) and the held-in scores
(``tasks.n_held_in_items``). Definitions: docs/METRICS.md."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import polars as pl

from inward.config.types import PlotsConfig

SCALING_TABLE = "cross_scaling.csv"
SCALING_FIGURE = "cross_scaling"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _acc(block: dict) -> str:
    return f"{_pct(block['accuracy'])} [{_pct(block['ci_low'])}, {_pct(block['ci_high'])}]"


def scaling_chart(table: pl.DataFrame, cfg: PlotsConfig):
    """Cross accuracy (keep-all, 95% item-level CI) against the number of cross-prediction
    examples, one line per cross predictor; self-prediction accuracy (solid) and the mode
    baseline (dashed) as horizontal lines, per target model."""
    x = alt.X("n_examples:Q", title="cross-prediction examples")
    y = alt.Y("accuracy:Q", title="held-out accuracy", scale=alt.Scale(domain=[0, 1]))
    points = alt.Chart().mark_line(point=True).encode(
        x=x, y=y, color=alt.Color("cross_model:N", title="cross predictor (M2)"),
        tooltip=["agent", "share", "n_examples", alt.Tooltip("accuracy:Q", format=".3f")])
    errs = alt.Chart().mark_errorbar().encode(x=x, y=alt.Y("ci_low:Q", title=None),
                                              y2="ci_high:Q", color="cross_model:N")
    self_line = alt.Chart().mark_rule(color="black").encode(
        y="mean(self_accuracy):Q", tooltip=[alt.Tooltip("mean(self_accuracy):Q",
                                                        title="self-prediction", format=".3f")])
    baseline = alt.Chart().mark_rule(color="gray", strokeDash=[4, 4]).encode(
        y="mean(baseline):Q", tooltip=[alt.Tooltip("mean(baseline):Q", title="mode baseline",
                                                   format=".3f")])
    return (alt.layer(points, errs, self_line, baseline, data=table)
            .properties(width=cfg.width, height=cfg.height)
            .facet(column=alt.Column("target:N", title="target model (M1)"))
            .properties(title=["Cross-prediction against training data",
                               "(solid line: self-prediction; dashed: mode baseline)"]))


def power_table(metrics: dict) -> str:
    head = ("| target M1 | cross M2 | scored on | policy | self - cross | items now | item SD "
            "| items for 80% power | per task (n_test_items) | smallest detectable now |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for m, res in metrics["targets"].items():
        blocks = [("held-out tasks", res.get("power", {}))]
        if "held_in" in res:
            blocks.append(("held-in items", res["held_in"].get("power", {})))
        for where, block in blocks:
            for m2, policies in block.get("self_vs_cross", {}).items():
                for policy, p in policies.items():
                    sd = "n/a" if p["item_sd"] is None else f"{p['item_sd']:.3f}"
                    diff = "n/a" if p["diff"] is None else f"{100 * p['diff']:+.1f} pts"
                    smallest = ("n/a" if p["detectable_diff"] is None
                                else f"{100 * p['detectable_diff']:.1f} pts")
                    rows.append(f"| {m} | {m2} | {where} | {policy} | {diff} | {p['n_items']} "
                                f"| {sd} | {p['n_items_needed'] or 'n/a'} | "
                                f"{p['n_items_per_task'] or 'n/a'} | {smallest} |")
    return head + "\n".join(rows) + "\n"


def scaling_table(metrics: dict) -> str:
    head = ("| target M1 | cross M2 | share | examples | cross accuracy [CI] | compliant | "
            "self-prediction | mode baseline |\n|---|---|---|---|---|---|---|---|\n")
    rows = []
    for m, res in metrics["targets"].items():
        for m2, entry in res.get("cross_scaling", {}).items():
            for p in [*entry["points"].values(), entry["full"]]:
                rows.append(f"| {m} | {m2} | {p['share']:g} | {p['n_examples']} | {_acc(p)} | "
                            f"{_pct(p['accuracy_compliant'])} | "
                            f"{_pct(entry['self']['accuracy'])} | "
                            f"{_pct(entry['self']['baseline'])} |")
    return head + "\n".join(rows) + "\n"


def held_in_table(metrics: dict) -> str:
    head = ("| target M1 | items | untrained | self-trained | cross-trained (M2) | "
            "mode baseline (self rows) |\n|---|---|---|---|---|---|\n")
    rows = []
    for m, res in metrics["targets"].items():
        h = res.get("held_in")
        if h is None:
            continue
        cross = "; ".join(f"{m2}: {_acc(a)}" for m2, a in h["cross"].items()) or "-"
        rows.append(f"| {m} | {h['n_items']} | {_acc(h['untrained'])} | {_acc(h['self'])} | "
                    f"{cross} | {_pct(h['self']['baseline'])} |")
    return head + "\n".join(rows) + "\n"


def report_sections(metrics: dict, figures_dir: str, fig_rel: Path) -> list[str]:
    """Markdown lines: power always; cross-data scaling and held-in when the study has them."""
    text = ["## Power of the self-vs-cross comparisons", "",
            ("Held-out items that would detect each observed self-minus-cross difference at "
             "80% power (two-sided alpha 0.05), from the item-level variance of the paired "
             "differences (normal approximation; docs/METRICS.md). 'per task' is the "
             "`tasks.n_test_items` that gives that many items."), "", power_table(metrics)]
    targets = metrics["targets"].values()
    if any("cross_scaling" in r for r in targets):
        text += ["## Cross-prediction against training data (cross.scaling)", "",
                 ("Each share trains its own M2__cross__M1@share on a nested, seeded subset of "
                  "the cross-prediction examples, with the same hyper-parameters and replay; "
                  "share 1 is the regular cross finetune. Keep-all accuracy with 95% "
                  "item-level CIs."), "", scaling_table(metrics)]
        if (Path(figures_dir) / f"{SCALING_FIGURE}.png").exists():
            text += [f"![Cross-data scaling]({fig_rel / (SCALING_FIGURE + '.png')})",
                     f"([interactive]({fig_rel / (SCALING_FIGURE + '.html')}))", ""]
    if any("held_in" in r for r in targets):
        text += ["## Held-in items (new prompts of the training tasks)", "",
                 ("Scored like the held-out tasks, and apart from them: the held-out numbers "
                  "above do not include these items. Keep-all accuracy with 95% item-level "
                  "CIs."), "", held_in_table(metrics)]
    return text
