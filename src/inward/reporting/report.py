"""``reports/report.md``: the figures, the headline table and a reading of the numbers.

The reading is generated from the metrics, so it always describes the run it sits beside; it
states what was measured and whether the self-vs-cross difference is significant, never more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import polars as pl
import yaml

from inward.config.types import ModelConfig
from inward.reporting.branches import report_sections
from inward.scoring.evaluation import COMPLIANCE_MIN, MODE_SHARE_MAX, POSITION_CONSTANT_MIN
from inward.study import layout

# the transcript page beside the report (both under reports/)
_TRANSCRIPTS_LINK = os.path.relpath(layout.TRANSCRIPTS_PAGE, os.path.dirname(layout.REPORT))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _pts(diff: float | None) -> str:
    return "n/a" if diff is None else f"{100 * diff:+.1f} pts"


def _acc(acc: dict, suffix: str = "") -> str:
    return (f"{_pct(acc[f'accuracy{suffix}'])} [{_pct(acc[f'ci_low{suffix}'])}, "
            f"{_pct(acc[f'ci_high{suffix}'])}], n={acc[f'n{suffix}']}")


def _base(acc: dict, suffix: str = "") -> str:
    return (f"{_pct(acc[f'baseline{suffix}'])} [{_pct(acc[f'baseline_ci_low{suffix}'])}, "
            f"{_pct(acc[f'baseline_ci_high{suffix}'])}]")


def _mad(block: dict | None) -> str:
    if not block or block.get("mad") is None:
        return "n/a"
    return f"{block['mad']:.1f} [{_num(block['ci_low'], '.1f')}, {_num(block['ci_high'], '.1f')}]"


def _test(t: dict) -> str:
    return (f"{_pts(t['diff'])} [{_pts(t['ci_low'])}, {_pts(t['ci_high'])}] "
            f"(p={_num(t['p_value'], '.3g')})")


def headline_table(metrics: dict, suffix: str = "") -> str:
    """One row per target; ``suffix`` "" = keep-all policy, "_compliant" = compliant rows."""
    policy = "compliant" if suffix else "keep_all"
    head = ("| target M1 | untrained | self-trained | cross-trained (M2) | mode baseline (self "
            "rows) | self - cross [CI] (p) | MAD self / cross | informative groups |\n"
            "|---|---|---|---|---|---|---|---|\n")
    rows = []
    for m, r in metrics["targets"].items():
        cross = "; ".join(f"{m2}: {_acc(a, suffix)}" for m2, a in r.get("cross", {}).items()) \
            or "-"
        test = "; ".join(_test(t[policy]) for t in r.get("self_vs_cross", {}).values()) or "-"
        cal = r["calibration_mad"]
        mads = f"{_mad(cal.get('self'))} / " + (
            ", ".join(_mad(v) for v in cal.get("cross", {}).values()) or "-")
        groups = r.get("groups", {})
        info = f"{groups.get('informative', 0)} of {groups.get('n', 0)}"
        rows.append(f"| {m} | {_acc(r['untrained'], suffix)} | {_acc(r['self'], suffix)} | "
                    f"{cross} | {_base(r['self'], suffix)} | {test} | {mads} | {info} |")
    return head + "\n".join(rows) + "\n"


def _bar(bar: dict) -> str:
    return (f"{_pct(bar['accuracy'])} [{_pct(bar['ci_low'])}, {_pct(bar['ci_high'])}] "
            f"(mode {_pct(bar['baseline'])}), n={bar['n']}")


def entropy_table(metrics: dict) -> str:
    """The entropy-matched comparisons: both bars on rows with one label histogram, beside
    the same bars on all their rows."""
    names = {"self_training": ("untrained M1 on M1", "M1__self on itself"),
             "shift": ("M1__shift on old", "M1__shift on new"),
             "self_vs_cross_compliant": ("M1__self", "cross {m2}")}
    rows = []
    for m, r in metrics["targets"].items():
        matched = r.get("entropy_matched", {})
        blocks = [(name, matched[name]) for name in ("self_training", "shift") if name in matched]
        blocks += [(f"self_vs_cross_compliant:{m2}", b)
                   for m2, b in matched.get("self_vs_cross_compliant", {}).items()]
        for name, b in blocks:
            kind, _, m2 = name.partition(":")
            first, second = (label.format(m2=m2) for label in names[kind])
            rows.append(f"| {m} | {name} | {first}: {_bar(b['first'])} | "
                        f"{second}: {_bar(b['second'])} | {_bar(b['unadjusted']['first'])} / "
                        f"{_bar(b['unadjusted']['second'])} |")
    if not rows:
        return ""
    return ("| target M1 | comparison | first bar (matched) | second bar (matched) | "
            "unadjusted first / second |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def variant_section(metrics: dict) -> list[str]:
    """The calibration variant's MADs (the paper's protocol) beside the pooled ones; nothing
    when ``calibration.variant`` is off."""
    rows = []
    for m, r in metrics["targets"].items():
        v = r.get("calibration_mad_variant")
        if v is None:
            continue
        cross = ", ".join(f"{m2}: {_mad(b)}" for m2, b in v.get("cross", {}).items()) or "-"
        pooled = r["calibration_mad"]
        rows.append(f"| {m} | {v['task']} / {v['property']} | {_mad(v.get('untrained'))} | "
                    f"{_mad(v.get('self'))} | {cross} | {_mad(pooled.get('self'))} |")
    if not rows:
        return []
    return ["## Calibration: the paper's variant", "",
            ("One prompt variant and one property, each object-level sample paired with one "
             "hypothetical sample (`calibration_mad_variant`, docs/METRICS.md §4), beside the "
             "pooled MAD over every held-out prompt (`calibration_mad`)."), "",
            "| target M1 | variant | MAD untrained | MAD self | MAD cross (M2) | pooled MAD self |",
            "|---|---|---|---|---|---|", *rows, ""]


def agents_table(metrics: dict) -> str:
    """Per agent: compliance, demonstration leaks and the largest top-answer share."""
    head = ("| agent | object-level compliance | hypothetical compliance | demonstration leak | "
            "top-answer share per held-out task |\n|---|---|---|---|---|\n")
    rows = []
    for agent, a in metrics.get("agents", {}).items():
        shares = ", ".join(f"{t}: {_pct(v)}" for t, v in a.get("top_answer_share", {}).items())
        rows.append(f"| {agent} | {_pct(a.get('object_compliance'))} | "
                    f"{_pct(a.get('hypothetical_compliance'))} | "
                    f"{_pct(a.get('demonstration_leak'))} | {shares or '-'} |")
    return head + "\n".join(rows) + "\n"


def reading(metrics: dict) -> str:
    """One paragraph in plain words, derived from the numbers."""
    sentences = []
    for m, r in metrics["targets"].items():
        groups = r.get("groups", {})
        s = (f"Trained on its own behaviour, {m} predicts its held-out behaviour with "
             f"{_pct(r['self']['accuracy'])} accuracy "
             f"(untrained: {_pct(r['untrained']['accuracy'])}; "
             f"always guessing its most common answer: {_pct(r['self']['baseline'])}); "
             f"{groups.get('informative', 0)} of {groups.get('n', 0)} task/property groups are "
             f"informative.")
        for m2, a in r.get("cross", {}).items():
            t = r["self_vs_cross"][m2]["keep_all"]
            significant = t["p_value"] is not None and t["p_value"] < 0.05
            verdict = ("significantly better than" if significant and t["diff"] > 0 else
                       "significantly worse than" if significant else
                       "not significantly different from")
            s += (f" {m2}, trained on the same data of {m}'s behaviour, reaches "
                  f"{_pct(a['accuracy'])}: self-prediction is {verdict} cross-prediction "
                  f"(p={_num(t['p_value'], '.3g')}).")
        if "shift" in r:
            sh = r["shift"]
            t = sh["new_minus_old"]["keep_all"]
            s += (f" After the behaviour-shift finetune, on the {sh['new']['n']} prompts whose "
                  f"answer property changed, its predictions match the new behaviour "
                  f"{_pct(sh['new']['accuracy'])} of the time and the old one "
                  f"{_pct(sh['old']['accuracy'])} (p={_num(t['p_value'], '.3g')}).")
        sentences.append(s)
    return " ".join(sentences)


def _models_line(models: Mapping[str, ModelConfig]) -> str:
    return ", ".join(f"`{name}` ({model.source or model.model})"
                     for name, model in models.items())


def write_report(metrics_path: str, tables_dir: str, figures_dir: str, report_path: str,
                 params_file: str) -> None:
    metrics = json.loads(Path(metrics_path).read_text())
    params = yaml.safe_load(Path(params_file).read_text())
    models = {name: ModelConfig.from_params(entry) for name, entry in params["models"].items()}
    report = Path(report_path)
    fig_rel = Path(os.path.relpath(figures_dir, report.parent))
    groups = pl.read_csv(Path(tables_dir) / "by_task_property.csv")
    group_md = _frame_markdown(groups.select(
        "target", "role", "predictor", "task", "property",
        (pl.col("accuracy") * 100).round(1).alias("accuracy %"), "n").sort(
            "target", "task", "property", "role"))
    info_path = Path(tables_dir) / "informative_groups.csv"
    info = pl.read_csv(info_path) if info_path.exists() else pl.DataFrame()
    informative_md = _frame_markdown(info.with_columns(
        pl.col(pl.Float64).round(3))) if info.height else "(no groups)\n"
    figures = [(name, title) for name, title in [
        ("accuracy", "Held-out accuracy"), ("by_task_property", "Per task and property"),
        ("calibration", "Calibration"), ("shift", "Behaviour shift")]
        if (Path(figures_dir) / f"{name}.png").exists()]
    text = [
        "# Introspection study: results",
        "",
        (f"Models: {_models_line(models)}. "
         f"Training tasks: {', '.join(params['tasks']['train'])}; held-out tasks: "
         f"{', '.join(params['tasks']['test'])}; {params['tasks']['n_test_items']} held-out "
         f"items per task; seed {params['base']['seed']}."),
        "",
        "## Reading",
        "",
        reading(metrics),
        "",
        "## Transcripts",
        "",
        (f"Every held-out answer behind these numbers, with the chats as sent and what was "
         f"read from each answer: [{Path(layout.TRANSCRIPTS_PAGE).name}]({_TRANSCRIPTS_LINK}) "
         f"(an offline page; filters by task, property, agent, target, correct and changed by "
         f"the shift). The same rows: `{layout.TRANSCRIPTS}`, `{layout.TRANSCRIPTS_CSV}`."),
        "",
        "## Headline numbers (95% item-level bootstrap CIs)",
        "",
        ("Keep-all policy: every row whose object-level property is defined; a non-compliant "
         "hypothetical answer counts as wrong. Definitions: docs/METRICS.md."),
        "",
        headline_table(metrics),
        "Compliant rows only (rows whose hypothetical answer is non-compliant dropped):",
        "",
        headline_table(metrics, "_compliant"),
        "## Entropy-matched comparisons",
        "",
        ("Each comparison's two bars scored on rows with the same label histogram per task and "
         "property (the official adjust_for_entropy rule; docs/METRICS.md), so neither bar wins "
         "by having behaviour that is easier to guess. Rows: "
         "reports/tables/entropy_matched_rows.csv."),
        "",
        entropy_table(metrics),
        *variant_section(metrics),
        *report_sections(metrics, figures_dir, fig_rel),
        "## Agents",
        "",
        agents_table(metrics),
        "## Informative task/property groups",
        "",
        (f"A group is uninformative when the self-trained target's most common value covers "
         f"at least {MODE_SHARE_MAX:.0%} of its defined rows, its object-level compliance is "
         f"below {COMPLIANCE_MIN:.0%}, or (multiple-choice and A/B tasks) the target gives one "
         f"letter to at least {POSITION_CONSTANT_MIN:.0%} of the task's items "
         f"(`position_constant`): then any predictor can learn the answer from the prompt's "
         f"position, not from the target."),
        "",
        informative_md,
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
