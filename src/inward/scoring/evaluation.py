"""Score a finished study: read every answer file of the layout, compute all metrics, write
``metrics.json`` (what ``dvc metrics diff`` compares) and per-item tables (what a person or a
plot reads). Every number is defined in docs/METRICS.md.

For each target model M1 (see ``inward.study.layout.comparisons``), each role is scored under both
non-compliance policies, beside the mode baseline on the same rows:
- untrained: M1's hypotheticals vs M1's own object-level behaviour;
- self: M1__self's hypotheticals vs M1__self's object-level behaviour;
- cross[M2]: M2__cross__M1's hypotheticals vs M1__self's object-level behaviour;
- shift: M1__shift's hypotheticals vs its new and its old (M1__self) behaviour, on items whose
  behaviour changed;
plus calibration MADs, self-vs-cross paired tests, how much behaviour self-training kept, and
which (task, property) groups are informative. Per agent: object-level and hypothetical
compliance, demonstration leaks and the top-answer share per held-out task.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from inward.config.types import CalibrationConfig
from inward.records.jsonl import read_jsonl
from inward.scoring import branches, calibration, entropy, metrics
from inward.scoring.frames import (
    KEY,
    dropped_keys,
    hypothetical_distributions,
    object_distributions,
    object_values,
    paired_distributions,
    predictions,
)
from inward.scoring.paper_rules import paper_clean
from inward.scoring.rule_sets import DEFAULT_RULES, RuleSet, get_rule_set
from inward.study import layout
from inward.tasks import catalog, prompts
from inward.tasks.catalog import Item

# explicit, so that a study without any calibration pair still writes the header
_CALIB_SCHEMA = {"target": pl.Utf8, "role": pl.Utf8, "bin": pl.Int64, "object_mean": pl.Float64,
                 "hypo_mean": pl.Float64, "n": pl.Int64}
MODE_SHARE_MAX = 0.95   # a group whose target mode share is at least this is uninformative
COMPLIANCE_MIN = 0.5    # ... and so is one whose object-level compliance is below this
# ... and so is an option task's group whose target gives one letter to this share of its
# items: such a group measures a position preference, which any predictor can learn from the
# prompt (the mode share can stay low while the letter never moves: matches_target follows
# the item's target letter, not the answer)
POSITION_CONSTANT_MIN = 0.95
_OPTION_KINDS = ("multiple_choice", "ab_choice")


def _items(path) -> list[Item]:
    return [Item.from_dict(r) for r in read_jsonl(path)]


def role_block(pred: pl.DataFrame, truth: pl.DataFrame, n_boot: int, seed: int) -> dict:
    """accuracy (keep-all) and accuracy_compliant with CIs, n and their mode baselines on the
    same rows; compliance = share of keep-all rows whose hypothetical is compliant."""
    out: dict = {}
    for policy, suffix in (("keep_all", ""), ("compliant", "_compliant")):
        rows = metrics.scored_rows(pred, truth, policy)
        acc = metrics._accuracy_of_rows(rows, n_boot, seed)
        base = metrics.mode_baseline_of_rows(rows, n_boot, seed)
        out |= {f"accuracy{suffix}": acc["accuracy"], f"ci_low{suffix}": acc["ci_low"],
                f"ci_high{suffix}": acc["ci_high"], f"n{suffix}": acc["n"],
                f"n_items{suffix}": acc["n_items"],
                f"baseline{suffix}": base["accuracy"], f"baseline_ci_low{suffix}": base["ci_low"],
                f"baseline_ci_high{suffix}": base["ci_high"]}
    out["compliance"] = out["n_compliant"] / out["n"] if out["n"] else None
    return out


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
    keep = metrics.accuracy_by_group(pred, truth, n_boot=n_boot, seed=seed)
    comp = metrics.accuracy_by_group(pred, truth, n_boot=n_boot, seed=seed, policy="compliant")
    if keep.height == 0:
        return None
    comp = comp.select("task", "property", pl.col("accuracy").alias("accuracy_compliant"),
                       pl.col("n").alias("n_compliant")) if comp.height else None
    table = keep.select("task", "property", "accuracy", "ci_low", "ci_high", "n")
    if comp is not None:
        table = table.join(comp, on=["task", "property"], how="left")
    return table.with_columns(pl.lit(target).alias("target"), pl.lit(role).alias("role"),
                              pl.lit(predictor).alias("predictor"))


def behaviour_kept(before: pl.DataFrame, after: pl.DataFrame) -> dict:
    """How much of M1's held-out behaviour M1__self kept (see docs/METRICS.md)."""
    j = before.select([*KEY, pl.col("value").alias("a")]).join(
        after.select([*KEY, pl.col("value").alias("b")]), on=KEY, how="inner")
    both = j.filter(pl.col("a").is_not_null() & pl.col("b").is_not_null())
    same_all = (j["a"].eq_missing(j["b"])).sum() if j.height else 0
    return {"behaviour_kept": float((both["a"] == both["b"]).mean()) if both.height else None,
            "behaviour_kept_n": both.height,
            "behaviour_kept_all_rows": float(same_all / j.height) if j.height else None,
            "behaviour_kept_all_rows_n": j.height}


def agent_block(items: list[Item], answers: list[dict] | None, pred: pl.DataFrame | None,
                rule_set: str | RuleSet) -> dict:
    """Per-agent compliance, demonstration leaks and top-answer share per held-out task.

    Object-level compliance follows ``rule_set``; the top-answer share compares answers after
    the paper's cleaning (``paper_clean``) whatever the rule set."""
    rules = get_rule_set(rule_set)
    out: dict = {}
    if answers is not None:
        by_key = {(a["task"], a["item_id"]): a.get("response") for a in answers}
        dropped = dropped_keys(answers)
        responses = [(it, by_key.get((it.task, it.item_id))) for it in items
                     if (it.task, it.item_id) not in dropped]
        n = len(responses)
        out["object_compliance"] = (sum(rules.object_compliant(it.task, r)
                                        for it, r in responses) / n) if n else None
        out["demonstration_leak"] = (sum(prompts.leaks_demonstration(it, r)
                                         for it, r in responses) / n) if n else None
        out["n_object"] = n
        shares = {}
        for task in sorted({it.task for it in items}):
            cleaned = [paper_clean(r) for it, r in responses if it.task == task]
            if cleaned:
                shares[task] = Counter(cleaned).most_common(1)[0][1] / len(cleaned)
        out["top_answer_share"] = shares
    if pred is not None:
        out["hypothetical_compliance"] = metrics.compliance_rate(pred, "prediction")["rate"]
        out["n_hypothetical"] = pred.height
    return out


def top_letter_shares(items: list[Item], answers: list[dict] | None) -> dict[str, float]:
    """Per multiple-choice or A/B task, the share of its items whose raw answer (after the
    paper's cleaning) is the most common one: 1.0 when the model gives one letter to all."""
    if answers is None:
        return {}
    by_key = {(a["task"], a["item_id"]): a.get("response") for a in answers}
    shares = {}
    for task in sorted({it.task for it in items if catalog.task_kind(it.task) in _OPTION_KINDS}):
        cleaned = [paper_clean(by_key.get((it.task, it.item_id))) for it in items
                   if it.task == task]
        shares[task] = Counter(cleaned).most_common(1)[0][1] / len(cleaned)
    return shares


def group_table(target: str, truth: pl.DataFrame, preds: dict[str, pl.DataFrame],
                letter_shares: dict[str, float] | None = None) -> pl.DataFrame:
    """Per (task, property): the target's mode share among defined rows, object-level
    compliance, each predictor's hypothetical compliance, the top raw-answer share of an
    option task (``letter_shares``), and whether the group is informative: mode share <
    MODE_SHARE_MAX, object compliance >= COMPLIANCE_MIN, and not ``position_constant`` (one
    letter for at least POSITION_CONSTANT_MIN of the task's items)."""
    letter_shares = letter_shares or {}
    rows = []
    for (task, prop), g in metrics._groups(truth):
        defined = [v for v in g["value"].to_list() if v is not None]
        mode = metrics.mode_of(defined)
        share = defined.count(mode) / len(defined) if defined else None
        compliance = float(g["compliant"].mean()) if g.height else None
        row = {"target": target, "task": task, "property": prop, "n": g.height,
               "n_defined": len(defined), "mode": mode, "mode_share": share,
               "object_compliance": compliance}
        for role, pred in preds.items():
            p = pred.filter((pl.col("task") == task) & (pl.col("property") == prop))
            row[f"hypothetical_compliance_{role}"] = (
                float(p["prediction"].is_not_null().mean()) if p.height else None)
        letters = letter_shares.get(task)
        row["top_letter_share"] = letters
        row["position_constant"] = bool(letters is not None
                                        and letters >= POSITION_CONSTANT_MIN)
        row["informative"] = bool(share is not None and share < MODE_SHARE_MAX
                                  and compliance is not None and compliance >= COMPLIANCE_MIN
                                  and not row["position_constant"])
        rows.append(row)
    return pl.DataFrame(rows)


def evaluate_study(*, models: list[str], test_items: str, props: list[str],
                   calib: CalibrationConfig, n_boot: int, seed: int, metrics_path: str,
                   tables_dir: str, rule_set: str | RuleSet = DEFAULT_RULES,
                   shift_source: str | None = None, variant_items: str | None = None,
                   scaling: Sequence[float] = (), held_in_items: str | None = None) -> dict:
    """Score the study of ``models`` on the held-out items (module doc): write ``metrics_path``
    and the tables under ``tables_dir``, return what the metrics file holds. ``props``: the
    study's properties; ``calib``: the calibration MAD's bins and top-k; ``n_boot``, ``seed``:
    the bootstraps; ``rule_set``: the rule set reading every answer (``metrics.rules``);
    ``shift_source``: ``shift.source`` (which models have a shift); ``variant_items``: the
    calibration variant's items (with ``calib.variant``: its paired MADs are scored too);
    ``scaling`` (``cross.scaling``) and ``held_in_items`` (the held-in items file, None when
    off): the optional branches (``inward.scoring.branches``)."""
    rules = get_rule_set(rule_set)
    items = _items(test_items)
    raw: dict = {}  # agent -> object-level answer records on held-out items
    obj: dict = {}  # agent -> object-level property frame on held-out items
    hyp: dict = {}  # agent -> prediction frame
    dropped: dict = {}  # agent -> {"object" | "hypothetical": rows without a mode of n}

    def count_dropped(agent, level, records):
        n = sum(bool(r.get("dropped")) for r in records)
        if n:
            dropped.setdefault(agent, {"object": 0, "hypothetical": 0})[level] = n

    def object_frame(agent):
        if agent not in obj:
            raw[agent] = read_jsonl(layout.object_path(agent, "test"))
            count_dropped(agent, "object", raw[agent])
            obj[agent] = object_values(items, raw[agent], props, rules)
        return obj[agent]

    def pred_frame(agent):
        if agent not in hyp:
            records = read_jsonl(layout.hypo_path(agent))
            count_dropped(agent, "hypothetical", records)
            hyp[agent] = predictions(records, rules)
        return hyp[agent]

    def score(pred, truth):  # a role block, for the optional branches
        return role_block(pred, truth, n_boot, seed)

    def mad(object_agent, hypo_agent):
        o = object_distributions(items, read_jsonl(layout.object_dist_path(object_agent)),
                                 props, rules)
        h = hypothetical_distributions(read_jsonl(layout.hypo_dist_path(hypo_agent)), rules)
        return calibration.calibration_mad(o, h, n_bins=calib.n_bins, top_k=calib.top_k,
                                           n_boot=n_boot, seed=seed)

    out: dict = {"targets": {}, "agents": {}}
    item_rows, group_rows, calib_rows, info_rows, entropy_rows = [], [], [], [], []
    shift_plan = layout.ShiftPlan(shift_source)
    variant = calib.variant if variant_items else None
    v_items = _items(variant_items) if variant else []
    variant_rows: list[dict] = []

    def variant_mad(object_agent, hypo_agent):
        o, h = paired_distributions(
            v_items, read_jsonl(layout.variant_path(object_agent, "object")),
            read_jsonl(layout.variant_path(hypo_agent, "hypothetical")), variant.property,
            rules)
        return calibration.calibration_mad(o, h, n_bins=calib.n_bins, top_k=calib.top_k,
                                           n_boot=n_boot, seed=seed)

    for comp in layout.comparisons(models, shift_plan):
        m = comp.target
        truth_untrained, truth_self = object_frame(comp.untrained), object_frame(comp.self_trained)
        scored = {"untrained": (comp.untrained, truth_untrained),
                  "self": (comp.self_trained, truth_self)}
        scored |= {f"cross:{m2}": (agent, truth_self) for m2, agent in comp.cross.items()}
        res: dict = {}
        for role, (agent, truth) in scored.items():
            pred = pred_frame(agent)
            block = role_block(pred, truth, n_boot, seed)
            if role.startswith("cross:"):
                res.setdefault("cross", {})[role.split(":", 1)[1]] = block
            else:
                res[role] = block
            item_rows.append(_scored(role, m, agent, pred, truth))
            table = _group_table(role, m, agent, pred, truth, n_boot, seed)
            if table is not None:
                group_rows.append(table)
        res["self_vs_cross"] = {
            m2: {policy: metrics.paired_test(pred_frame(comp.self_trained), pred_frame(agent),
                                             truth_self, n_boot=n_boot, seed=seed, policy=policy)
                 for policy in metrics.POLICIES}
            for m2, agent in comp.cross.items()}
        res |= behaviour_kept(truth_untrained, truth_self)
        res["power"] = {"self_vs_cross": branches.self_vs_cross_power(
            pred_frame(comp.self_trained),
            {m2: pred_frame(a) for m2, a in comp.cross.items()}, truth_self)}
        if scaling:  # the optional cross-data scaling branch (cross.scaling)
            res["cross_scaling"] = branches.cross_scaling(
                m, comp, layout.scaled_cross(models, scaling).get(m, {}), res["self"],
                res.get("cross", {}), pred_frame, truth_self, score)

        cal_pairs = {"untrained": (comp.untrained, comp.untrained),
                     "self": (comp.self_trained, comp.self_trained)}
        cal_pairs |= {f"cross:{m2}": (comp.self_trained, a) for m2, a in comp.cross.items()}
        res["calibration_mad"] = _mad_blocks(m, cal_pairs, mad, calib_rows, {})
        if variant:  # the paper's protocol: one prompt variant, paired samples
            res["calibration_mad_variant"] = _mad_blocks(
                m, cal_pairs, variant_mad, variant_rows,
                {"task": variant.task, "property": variant.property})

        if comp.shift:
            res["shift"] = _shift_block(pred_frame(comp.shift), truth_self,
                                        object_frame(comp.shift), n_boot, seed)

        bars = _entropy_bars(comp, truth_untrained, truth_self, pred_frame,
                             object_frame(comp.shift) if comp.shift else None)
        res["entropy_matched"] = {}
        for name, (first, second) in bars.items():
            block, kept_a, kept_b = entropy.compare(first[2], second[2], n_boot, seed)
            path = name.split(":")
            node = res["entropy_matched"]
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = block
            for bar, (label_agent, predictor, _), kept in (("first", first, kept_a),
                                                           ("second", second, kept_b)):
                entropy_rows.append(kept.select(
                    pl.lit(m).alias("model"), pl.lit(name).alias("comparison"),
                    pl.lit(bar).alias("bar"), pl.lit(label_agent).alias("target"),
                    pl.lit(predictor).alias("predictor"), "task", "property", "item_id",
                    pl.col("value").alias("label"), "prediction", "correct"))

        preds = {"self": pred_frame(comp.self_trained),
                 **{f"cross_{m2}": pred_frame(a) for m2, a in comp.cross.items()}}
        info = group_table(m, truth_self, preds, top_letter_shares(items, raw[comp.self_trained]))
        info_rows.append(info)
        res["groups"] = {"n": info.height,
                         "informative": int(info["informative"].sum()) if info.height else 0,
                         "position_constant": (int(info["position_constant"].sum())
                                               if info.height else 0)}
        out["targets"][m] = res

    for agent in layout.hypothetical_agents(models, shift_plan):
        out["agents"][agent] = agent_block(items, raw.get(agent), pred_frame(agent), rules)
    if held_in_items:  # the optional held-in branch (tasks.n_held_in_items)
        held = _items(held_in_items)
        for comp in layout.comparisons(models):
            out["targets"][comp.target]["held_in"] = branches.held_in(
                comp, held, props, rules, score, n_boot, seed)
    if dropped:  # only hosted models' mode of n drops rows
        out["mode_of_n_dropped"] = dict(sorted(dropped.items()))

    tables = Path(tables_dir)
    tables.mkdir(parents=True, exist_ok=True)
    items_table = pl.concat(item_rows)
    items_table.write_parquet(tables / "items.parquet")
    items_table.write_csv(tables / "items.csv")
    groups = (pl.concat(group_rows, how="diagonal_relaxed") if group_rows else
              pl.DataFrame(schema={"target": pl.Utf8, "role": pl.Utf8, "predictor": pl.Utf8,
                                   "task": pl.Utf8, "property": pl.Utf8,
                                   "accuracy": pl.Float64, "ci_low": pl.Float64,
                                   "ci_high": pl.Float64, "n": pl.Int64}))
    groups.write_csv(tables / "by_task_property.csv")
    informative = pl.concat([t for t in info_rows if t.height], how="diagonal_relaxed") \
        if any(t.height for t in info_rows) else pl.DataFrame(
            schema={"target": pl.Utf8, "task": pl.Utf8, "property": pl.Utf8,
                    "informative": pl.Boolean})
    informative.write_csv(tables / "informative_groups.csv")
    out["per_group"] = _per_group_metrics(groups)
    pl.concat(entropy_rows).write_csv(tables / "entropy_matched_rows.csv")
    pl.DataFrame(calib_rows, schema=_CALIB_SCHEMA).write_csv(tables / "calibration_bins.csv")
    if scaling:
        pl.DataFrame(branches.scaling_rows(out["targets"])).write_csv(
            tables / "cross_scaling.csv")
    if variant:
        pl.DataFrame(variant_rows, schema=_CALIB_SCHEMA).write_csv(
            tables / "calibration_variant_bins.csv")
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out


def _mad_blocks(target: str, cal_pairs: dict[str, tuple[str, str]],
                score: Callable[[str, str], dict], bin_rows: list[dict], block: dict) -> dict:
    """``block`` with one MAD per calibration pair (role -> (object agent, hypothetical
    agent), scored by ``score``), each pair's bins appended to ``bin_rows``."""
    for role, (o_agent, h_agent) in cal_pairs.items():
        result = score(o_agent, h_agent)
        numbers = {k: result[k] for k in ("mad", "ci_low", "ci_high", "n_pairs", "n_items")}
        if role.startswith("cross:"):
            block.setdefault("cross", {})[role.split(":", 1)[1]] = numbers
        else:
            block[role] = numbers
        bin_rows += [{"target": target, "role": role, **b} for b in result["bins"]]
    return block


def _entropy_bars(comp: layout.Comparison, truth_untrained: pl.DataFrame,
                  truth_self: pl.DataFrame, pred_frame: Callable[[str], pl.DataFrame],
                  truth_shift: pl.DataFrame | None) -> dict:
    """The two bars of each entropy-matched comparison (``inward.scoring.entropy``), by name:
    (label agent, predictor, scored rows) each. ``self_training``: the untrained model
    predicting itself against the self-trained one predicting itself (keep-all, as the paper's
    self-prediction figures); ``shift``: the shifted model against its old and its new
    behaviour on the rows the shift changed (compliant rows, as the paper's shift figure);
    ``self_vs_cross_compliant:<M2>``: self against each cross predictor on their compliant rows
    (under keep-all both score the same rows against one target: nothing to adjust)."""
    pred_self = pred_frame(comp.self_trained)
    bars = {"self_training": (
        (comp.untrained, comp.untrained,
         metrics.scored_rows(pred_frame(comp.untrained), truth_untrained)),
        (comp.self_trained, comp.self_trained, metrics.scored_rows(pred_self, truth_self)))}
    if comp.shift:
        pred = pred_frame(comp.shift)
        changed = metrics.shift_rows(pred, truth_self, truth_shift).select(metrics.KEY)
        old = truth_self.join(changed, on=metrics.KEY, how="semi")
        new = truth_shift.join(changed, on=metrics.KEY, how="semi")
        bars["shift"] = (
            (comp.self_trained, comp.shift, metrics.scored_rows(pred, old, "compliant")),
            (comp.shift, comp.shift, metrics.scored_rows(pred, new, "compliant")))
    for m2, agent in comp.cross.items():
        bars[f"self_vs_cross_compliant:{m2}"] = (
            (comp.self_trained, comp.self_trained,
             metrics.scored_rows(pred_self, truth_self, "compliant")),
            (comp.self_trained, agent,
             metrics.scored_rows(pred_frame(agent), truth_self, "compliant")))
    return bars


def _shift_block(pred: pl.DataFrame, old: pl.DataFrame, new: pl.DataFrame, n_boot: int,
                 seed: int) -> dict:
    """{"new": {...}, "old": {...}, "new_minus_old": {...}}: both policies, baselines on the
    same rows, and the paired new-vs-old comparison."""
    block: dict = {"new": {}, "old": {}, "new_minus_old": {}}
    for policy, suffix in (("keep_all", ""), ("compliant", "_compliant")):
        raw = metrics.shift_accuracy(pred, old, new, n_boot=n_boot, seed=seed, policy=policy)
        for which in ("new", "old"):
            acc, base = raw[which], raw[f"{which}_baseline"]
            block[which] |= {f"accuracy{suffix}": acc["accuracy"],
                             f"ci_low{suffix}": acc["ci_low"],
                             f"ci_high{suffix}": acc["ci_high"], f"n{suffix}": acc["n"],
                             f"n_items{suffix}": acc["n_items"],
                             f"baseline{suffix}": base["accuracy"]}
        block["new_minus_old"][policy] = raw["diff"]
    return block


def _per_group_metrics(groups: pl.DataFrame) -> dict:
    """{target: {role: {"task/property": accuracy}}} for the metrics file (keep-all)."""
    out: dict = {}
    for r in groups.iter_rows(named=True):
        key = f"{r['task']}/{r['property']}"
        out.setdefault(r["target"], {}).setdefault(r["role"], {})[key] = r["accuracy"]
    return out
