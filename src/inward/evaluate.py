"""Score a finished study: read every answer file of the layout, compute all metrics, write
``metrics.json`` (what ``dvc metrics diff`` compares) and per-item tables (what a person or a
plot reads).

For each target model M1 (see ``inward.layout.comparisons``):
- untrained: M1's hypotheticals vs M1's own object-level behaviour;
- self: M1__self's hypotheticals vs M1__self's object-level behaviour;
- cross[M2]: M2__cross__M1's hypotheticals vs M1__self's object-level behaviour;
- baseline: always guessing M1__self's most common value per (task, property);
- calibration MAD for untrained, self and cross;
- shift: M1__shift's hypotheticals vs its new and its old (M1__self) behaviour, on items whose
  behaviour changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from inward import layout, metrics
from inward.frames import (
    KEY,
    hypothetical_distributions,
    object_distributions,
    object_values,
    predictions,
)
from inward.io import read_jsonl
from inward.tasks import Item

# explicit, so that a study without any calibration pair still writes the header
_CALIB_SCHEMA = {"target": pl.Utf8, "role": pl.Utf8, "hypo_mean": pl.Float64,
                 "object_mean": pl.Float64, "n": pl.Int64}


def _items(path) -> list[Item]:
    return [Item.from_dict(r) for r in read_jsonl(path)]


def _scored(role: str, target: str, predictor: str, pred: pl.DataFrame,
            truth: pl.DataFrame) -> pl.DataFrame:
    """Per-item rows of one comparison, for the tables."""
    joined = truth.join(pred, on=KEY, how="left")
    return joined.select(
        pl.lit(target).alias("target"), pl.lit(role).alias("role"),
        pl.lit(predictor).alias("predictor"), *KEY,
        pl.col("value").alias("target_value"), "prediction",
        (pl.col("value").is_not_null() & (pl.col("prediction") == pl.col("value")))
        .fill_null(False).alias("correct"))


def _group_table(role: str, target: str, predictor: str, pred, truth, n_boot, seed):
    by_group = metrics.accuracy_by_group(pred, truth, n_boot=n_boot, seed=seed)
    return by_group.with_columns(pl.lit(target).alias("target"), pl.lit(role).alias("role"),
                                 pl.lit(predictor).alias("predictor"))


def evaluate_study(*, models: list[str], test_items: str, props: list[str], calib: dict,
                   n_boot: int, seed: int, metrics_path: str, tables_dir: str) -> dict:
    items = _items(test_items)
    obj = {}  # agent -> object-level property frame on held-out items
    hyp = {}  # agent -> prediction frame

    def object_frame(agent):
        if agent not in obj:
            obj[agent] = object_values(items, read_jsonl(layout.object_path(agent, "test")), props)
        return obj[agent]

    def pred_frame(agent):
        if agent not in hyp:
            hyp[agent] = predictions(read_jsonl(layout.hypo_path(agent)))
        return hyp[agent]

    def mad(object_agent, hypo_agent):
        o = object_distributions(items, read_jsonl(layout.object_dist_path(object_agent)), props)
        h = hypothetical_distributions(read_jsonl(layout.hypo_dist_path(hypo_agent)))
        return metrics.calibration_mad(o, h, n_bins=calib["n_bins"], top_k=calib["top_k"])

    out: dict = {"targets": {}}
    item_rows, group_rows, calib_rows = [], [], []
    for comp in layout.comparisons(models):
        m = comp.target
        truth_untrained, truth_self = object_frame(comp.untrained), object_frame(comp.self_trained)
        scored = {"untrained": (comp.untrained, truth_untrained),
                  "self": (comp.self_trained, truth_self)}
        scored |= {f"cross:{m2}": (agent, truth_self) for m2, agent in comp.cross.items()}
        res: dict = {}
        for role, (agent, truth) in scored.items():
            pred = pred_frame(agent)
            acc = metrics.accuracy(pred, truth, n_boot=n_boot, seed=seed)
            acc["compliance"] = metrics.compliance_rate(pred, "prediction")["rate"]
            if role.startswith("cross:"):
                res.setdefault("cross", {})[role.split(":", 1)[1]] = acc
            else:
                res[role] = acc
            item_rows.append(_scored(role, m, agent, pred, truth))
            group_rows.append(_group_table(role, m, agent, pred, truth, n_boot, seed))
        res["baseline"] = metrics.mode_baseline(truth_self, n_boot=n_boot, seed=seed)
        res["baseline_untrained"] = metrics.mode_baseline(truth_untrained, n_boot=n_boot, seed=seed)
        res["object_compliance"] = {
            "untrained": metrics.compliance_rate(truth_untrained, "value")["rate"],
            "self": metrics.compliance_rate(truth_self, "value")["rate"]}
        res["self_vs_cross"] = {
            m2: _numeric(metrics.paired_test(pred_frame(comp.self_trained), pred_frame(agent),
                                             truth_self, n_boot=n_boot, seed=seed))
            for m2, agent in comp.cross.items()}

        cal_pairs = {"untrained": (comp.untrained, comp.untrained),
                     "self": (comp.self_trained, comp.self_trained)}
        cal_pairs |= {f"cross:{m2}": (comp.self_trained, a) for m2, a in comp.cross.items()}
        cal: dict = {}
        for role, (o_agent, h_agent) in cal_pairs.items():
            result = mad(o_agent, h_agent)
            if role.startswith("cross:"):
                cal.setdefault("cross", {})[role.split(":", 1)[1]] = result["mad"]
            else:
                cal[role] = result["mad"]
            calib_rows += [{"target": m, "role": role, **b} for b in result["bins"]]
        res["calibration_mad"] = cal

        if comp.shift:
            res["shift"] = _shift_block(metrics.shift_accuracy(
                pred_frame(comp.shift), truth_self, object_frame(comp.shift),
                n_boot=n_boot, seed=seed))
        out["targets"][m] = res

    tables = Path(tables_dir)
    tables.mkdir(parents=True, exist_ok=True)
    items_table = pl.concat(item_rows)
    items_table.write_parquet(tables / "items.parquet")
    items_table.write_csv(tables / "items.csv")
    groups = pl.concat(group_rows, how="diagonal_relaxed")
    groups.write_csv(tables / "by_task_property.csv")
    out["per_group"] = _per_group_metrics(groups)
    pl.DataFrame(calib_rows, schema=_CALIB_SCHEMA).write_csv(tables / "calibration_bins.csv")
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out


def _numeric(d: dict) -> dict:
    """Metrics files hold numbers only (the test's name goes into the report)."""
    return {k: v for k, v in d.items() if not isinstance(v, str)}


def _shift_block(raw: dict) -> dict:
    """{"new": acc, "old": acc, "p_value", "n_changed"} from ``metrics.shift_accuracy``."""
    block = {which: {"accuracy": raw[f"accuracy_{which}"], "ci_low": raw[f"ci_low_{which}"],
                     "ci_high": raw[f"ci_high_{which}"], "n": raw["n"]}
             for which in ("new", "old")}
    return {**block, "p_value": raw["p_value"], "n_changed": raw["n"],
            "n_noncompliant": raw["n_noncompliant"]}


def _per_group_metrics(groups: pl.DataFrame) -> dict:
    """{target: {role: {"task/property": accuracy}}} for the metrics file."""
    out: dict = {}
    for r in groups.iter_rows(named=True):
        key = f"{r['task']}/{r['property']}"
        out.setdefault(r["target"], {}).setdefault(r["role"], {})[key] = r["accuracy"]
    return out
