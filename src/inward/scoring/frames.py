"""Turn answer files into the polars frames that ``inward.scoring.metrics`` scores.

Every reading goes through one rule set (``rule_set``: a name of
``inward.scoring.rule_sets.RULE_SETS``, "paper" by default, or a ``RuleSet``), so finetuning
labels, scores and calibration follow the same rules.

* object-level property frame: one row per (task, item_id, property) of the study with the
  property's ``value`` (null = the answer is non-compliant or the property is undefined for it)
  and ``compliant`` (the object-level answer passed the object-level compliance checks);
* prediction frame: one row per hypothetical answer with its ``prediction`` (null =
  non-compliant);
* distribution frame: ``values``/``probs`` list columns per (task, item_id, property).
"""

from __future__ import annotations

from collections import Counter

import polars as pl

from inward.scoring.rule_sets import DEFAULT_RULES, RuleSet, get_rule_set
from inward.tasks.catalog import Item
from inward.tasks.prompts import study_pairs

KEY = ["task", "item_id", "property"]
_VALUE_SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8, "value": pl.Utf8,
                 "compliant": pl.Boolean}
_PRED_SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                "prediction": pl.Utf8}
_DIST_SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                "values": pl.List(pl.Utf8), "probs": pl.List(pl.Float64)}


def object_property_value(item: Item, prop: str, response: str | None,
                          rule_set: str | RuleSet = DEFAULT_RULES) -> str | None:
    """The property of one object-level answer, None when non-compliant or undefined."""
    return get_rule_set(rule_set).object_value(prop, item.task, response, item.target)


def dropped_keys(answers: list[dict]) -> set[tuple[str, str]]:
    """(task, item_id) of the answer rows a hosted model's mode of n left without an answer
    (``"dropped"``): scoring leaves them out, as the paper drops such prompts."""
    return {(a["task"], a["item_id"]) for a in answers if a.get("dropped")}


def object_values(items: list[Item], answers: list[dict], props: list[str],
                  rule_set: str | RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Object-level property frame (task, item_id, property, value, compliant)."""
    rules = get_rule_set(rule_set)
    by_key = {(a["task"], a["item_id"]): a.get("response") for a in answers}
    dropped = dropped_keys(answers)
    rows = []
    for it, p in study_pairs(items, props):
        if (it.task, it.item_id) in dropped:  # no mode of n: the paper drops the prompt
            continue
        response = by_key.get((it.task, it.item_id))
        rows.append({"task": it.task, "item_id": it.item_id, "property": p,
                     "value": rules.object_value(p, it.task, response, it.target),
                     "compliant": rules.object_compliant(it.task, response)})
    return pl.DataFrame(rows, schema=_VALUE_SCHEMA)


def predictions(hypo_answers: list[dict],
                rule_set: str | RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Prediction frame (task, item_id, property, prediction) from hypothetical answers; a
    row dropped for want of a mode of n (``"dropped"``) is left out, not non-compliant."""
    rules = get_rule_set(rule_set)
    rows = [{"task": a["task"], "item_id": a["item_id"], "property": a["property"],
             "prediction": rules.prediction(a["property"], a.get("response"))}
            for a in hypo_answers if not a.get("dropped")]
    return pl.DataFrame(rows, schema=_PRED_SCHEMA)


def _dist_row(key: tuple[str, str, str], counts: Counter, total: int) -> dict:
    values = sorted(counts, key=lambda v: (-counts[v], v))
    return {"task": key[0], "item_id": key[1], "property": key[2], "values": values,
            "probs": [counts[v] / total for v in values]}


def object_distributions(items: list[Item], samples: list[dict], props: list[str],
                         rule_set: str | RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Property distribution per (item, property) from sampled object-level answers.

    prob(v) = samples whose value is v / samples whose value is defined (the official
    calibration drops invalid samples); an (item, property) without a defined sample has no
    row. Values are sorted by probability, ties by value.
    """
    rules = get_rule_set(rule_set)
    by_key = {(s["task"], s["item_id"]): s["samples"] for s in samples}
    rows = []
    for it, p in study_pairs(items, props):
        values = [rules.object_value(p, it.task, r, it.target)
                  for r in by_key.get((it.task, it.item_id), [])]
        counts = Counter(v for v in values if v is not None)
        if counts:
            rows.append(_dist_row((it.task, it.item_id, p), counts, sum(counts.values())))
    return pl.DataFrame(rows, schema=_DIST_SCHEMA)


def hypothetical_distributions(rows: list[dict],
                               rule_set: str | RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Prediction distribution per (item, property) from sampled hypothetical answers.

    ``rows``: ``{"task", "item_id", "property", "samples": [answer, ...]}``. prob(v) = samples
    read as v / all samples: the mass of non-compliant answers stays unassigned (no
    renormalisation), and a prompt without any compliant sample keeps its row (empty lists).
    """
    rules = get_rule_set(rule_set)
    out = []
    for r in rows:
        answers = r["samples"]
        counts = Counter(v for v in (rules.prediction(r["property"], a) for a in answers)
                         if v is not None)
        out.append(_dist_row((r["task"], r["item_id"], r["property"]), counts,
                             max(1, len(answers))))
    return pl.DataFrame(out, schema=_DIST_SCHEMA)


def paired_distributions(items: list[Item], object_samples: list[dict],
                         hypo_samples: list[dict], prop: str,
                         rule_set: str | RuleSet = DEFAULT_RULES
                         ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(object, hypothetical) distribution frames of the calibration variant, sample i of the
    target paired with sample i of the predictor as the official script pairs one object call
    with one hypothetical call (``side_experiments/19_sep_calibration_main_fig.py``,
    ``ask_question``): a pair whose object sample has no ``prop`` value is dropped whole. On
    the pairs kept, prob(v) = samples with value v / pairs kept at both levels (a
    non-compliant hypothetical sample keeps its share unassigned). An item without a kept
    pair has no row."""
    rules = get_rule_set(rule_set)
    obj = {(s["task"], s["item_id"]): s["samples"] for s in object_samples}
    hyp = {(s["task"], s["item_id"]): s["samples"] for s in hypo_samples
           if s.get("property") == prop}
    o_rows, h_rows = [], []
    for it in items:
        key = (it.task, it.item_id)
        if key not in obj or key not in hyp:
            continue
        if len(obj[key]) != len(hyp[key]):
            raise ValueError(f"{it.item_id}: {len(obj[key])} object samples but "
                             f"{len(hyp[key])} hypothetical samples; pairs need as many")
        kept = [(v, rules.prediction(prop, h))
                for v, h in ((rules.object_value(prop, it.task, o, it.target), h)
                             for o, h in zip(obj[key], hyp[key], strict=True))
                if v is not None]
        if not kept:
            continue
        o_rows.append(_dist_row((*key, prop), Counter(v for v, _ in kept), len(kept)))
        h_rows.append(_dist_row((*key, prop), Counter(p for _, p in kept if p is not None),
                                len(kept)))
    return (pl.DataFrame(o_rows, schema=_DIST_SCHEMA), pl.DataFrame(h_rows, schema=_DIST_SCHEMA))
