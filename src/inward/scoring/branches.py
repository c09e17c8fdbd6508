"""Scores of the optional branches (docs/METRICS.md): cross-data scaling (``cross.scaling``)
and held-in items (``tasks.n_held_in_items``), plus the power of every self-vs-cross
comparison. ``inward.scoring.evaluation`` calls these with its own role scorer (``score``:
predictions and target values -> a role block), so a branch's numbers are computed exactly as
the held-out roles' are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl

from inward.records.jsonl import read_jsonl
from inward.scoring import metrics, power
from inward.scoring.frames import object_values, predictions
from inward.scoring.rule_sets import RuleSet
from inward.study import layout
from inward.tasks.catalog import Item

Score = Callable[[pl.DataFrame, pl.DataFrame], dict]
"""(predictions, target values) -> role block (``evaluation.role_block``)."""

SELF_KEYS = ("accuracy", "ci_low", "ci_high", "accuracy_compliant", "ci_low_compliant",
             "ci_high_compliant", "baseline", "baseline_compliant", "n", "n_compliant")
"""What a scaling entry repeats of the self-prediction block, for its reference lines."""


def n_examples(path: str) -> int:
    """Prediction examples in a finetuning example file (one per line)."""
    return len(read_jsonl(path))


def self_vs_cross_power(pred_self: pl.DataFrame, preds_cross: Mapping[str, pl.DataFrame],
                        truth: pl.DataFrame) -> dict:
    """{M2: {policy: power.paired_power}} on the rows of each ``self_vs_cross`` test."""
    return {m2: {policy: power.paired_power(pred_self, pred, truth, policy)
                 for policy in metrics.POLICIES}
            for m2, pred in preds_cross.items()}


def cross_scaling(target: str, comp: layout.Comparison, scaled: Mapping[str, Mapping[str, str]],
                  self_block: dict, cross_blocks: Mapping[str, dict],
                  pred_frame: Callable[[str], pl.DataFrame], truth_self: pl.DataFrame,
                  score: Score) -> dict:
    """Per cross predictor M2 of ``target``: ``points`` (one per share of ``cross.scaling``,
    by its label: the share, its prediction examples ``n_examples`` and the role block of
    M2__cross__M1@label), ``full`` (the regular M2__cross__M1 on all the examples, share 1)
    and ``self`` (M1__self's accuracy and mode baseline: the lines the points are read
    against). Numbers only: metrics.json is what ``dvc metrics diff`` compares."""
    out = {}
    for m2, by_label in scaled.items():
        points = {}
        for label, agent in sorted(by_label.items(), key=lambda kv: float(kv[0])):
            points[label] = {"share": float(label),
                             "n_examples": n_examples(layout.scaled_sft_path(target, label)),
                             **score(pred_frame(agent), truth_self)}
        full = {"share": 1.0,
                "n_examples": n_examples(layout.sft_path("cross", target)), **cross_blocks[m2]}
        out[m2] = {"points": points, "full": full,
                   "self": {k: self_block[k] for k in SELF_KEYS}}
    return out


def scaling_rows(targets: Mapping[str, dict]) -> list[dict]:
    """One table row per scaling point and full cross finetune (``reports/tables/
    cross_scaling.csv``, the figure's data)."""
    rows = []
    for target, res in targets.items():
        for m2, entry in res.get("cross_scaling", {}).items():
            for label, point in [*entry["points"].items(), (None, entry["full"])]:
                agent = layout.Agent(m2, "cross", target, label).name
                rows.append({"target": target, "cross_model": m2, "agent": agent,
                             "share": point["share"], "n_examples": point["n_examples"],
                             "accuracy": point["accuracy"], "ci_low": point["ci_low"],
                             "ci_high": point["ci_high"],
                             "accuracy_compliant": point["accuracy_compliant"],
                             "self_accuracy": entry["self"]["accuracy"],
                             "baseline": entry["self"]["baseline"]})
    return rows


def held_in(comp: layout.Comparison, items: list[Item], props: list[str], rules: RuleSet,
            score: Score, n_boot: int, seed: int) -> dict:
    """The held-out roles scored on the held-in items (new prompts of the training tasks):
    ``untrained``, ``self``, ``cross.<M2>`` role blocks, ``self_vs_cross.<M2>.<policy>``
    paired tests and their ``power`` (as on the held-out tasks)."""
    def truth(agent: str) -> pl.DataFrame:
        return object_values(items, read_jsonl(layout.object_path(agent, layout.HELD_IN)),
                             props, rules)

    def pred(agent: str) -> pl.DataFrame:
        return predictions(read_jsonl(layout.hypo_held_in_path(agent)), rules)

    truth_self, pred_self = truth(comp.self_trained), pred(comp.self_trained)
    preds_cross = {m2: pred(agent) for m2, agent in comp.cross.items()}
    return {
        "n_items": len(items),
        "untrained": score(pred(comp.untrained), truth(comp.untrained)),
        "self": score(pred_self, truth_self),
        "cross": {m2: score(p, truth_self) for m2, p in preds_cross.items()},
        "self_vs_cross": {m2: {policy: metrics.paired_test(pred_self, p, truth_self,
                                                           n_boot=n_boot, seed=seed,
                                                           policy=policy)
                               for policy in metrics.POLICIES}
                          for m2, p in preds_cross.items()},
        "power": {"self_vs_cross": self_vs_cross_power(pred_self, preds_cross, truth_self)},
    }
