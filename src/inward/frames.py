"""Turn answer files into the polars frames that ``inward.metrics`` scores.

Object-level answers become one row per (task, item_id, property) with the property's value
(null = non-compliant or undefined); hypothetical answers become one row per (task, item_id,
property) with the normalised prediction (null = non-compliant). Distributions become
``values``/``probs`` list columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import polars as pl

from inward import compliance, properties
from inward.tasks import Item

KEY = ["task", "item_id", "property"]
_VALUE_SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8, "value": pl.Utf8}
_PRED_SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                "prediction": pl.Utf8}
_DIST_SCHEMA = {"task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
                "values": pl.List(pl.Utf8), "probs": pl.List(pl.Float64)}


def study_pairs(items: Iterable[Item], props: list[str]) -> list[tuple[Item, str]]:
    """Every (item, property) of the study: the params' properties that apply to the task."""
    return [(it, p) for it in items for p in props if properties.applicable(it.task, p)]


def object_property_value(item: Item, prop: str, response: str | None) -> str | None:
    """The property of one object-level answer, None when the answer is non-compliant."""
    if response is None or not compliance.object_compliant(response):
        return None
    return properties.extract(prop, response, item.target)


def object_values(items: list[Item], answers: list[dict], props: list[str]) -> pl.DataFrame:
    """Object-level property frame (task, item_id, property, value)."""
    by_key = {(a["task"], a["item_id"]): a.get("response") for a in answers}
    rows = [{"task": it.task, "item_id": it.item_id, "property": p,
             "value": object_property_value(it, p, by_key.get((it.task, it.item_id)))}
            for it, p in study_pairs(items, props)]
    return pl.DataFrame(rows, schema=_VALUE_SCHEMA)


def predictions(hypo_answers: list[dict]) -> pl.DataFrame:
    """Prediction frame (task, item_id, property, prediction) from hypothetical answers."""
    rows = [{"task": a["task"], "item_id": a["item_id"], "property": a["property"],
             "prediction": properties.normalise_prediction(a["property"], a.get("response"))}
            for a in hypo_answers]
    return pl.DataFrame(rows, schema=_PRED_SCHEMA)


def _dist_row(item_key: tuple[str, str, str], weights: dict[str, float]) -> dict:
    total = sum(weights.values())
    values = sorted(weights, key=lambda v: (-weights[v], v))
    probs = [weights[v] / total for v in values] if total > 0 else []
    return {"task": item_key[0], "item_id": item_key[1], "property": item_key[2],
            "values": values, "probs": probs}


def object_distributions(items: list[Item], samples: list[dict], props: list[str]) -> pl.DataFrame:
    """Property distribution per (item, property) from sampled object-level answers.

    Non-compliant samples carry no property value and are left out of the distribution.
    """
    by_key = {(s["task"], s["item_id"]): s["samples"] for s in samples}
    rows = []
    for it, p in study_pairs(items, props):
        weights: dict[str, float] = defaultdict(float)
        for response in by_key.get((it.task, it.item_id), []):
            value = object_property_value(it, p, response)
            if value is not None:
                weights[value] += 1.0
        if weights:
            rows.append(_dist_row((it.task, it.item_id, p), weights))
    return pl.DataFrame(rows, schema=_DIST_SCHEMA)


def hypothetical_distributions(rows: list[dict]) -> pl.DataFrame:
    """Prediction distribution per (item, property) from first-token probabilities."""
    out = []
    for r in rows:
        weights: dict[str, float] = defaultdict(float)
        for token, prob in r["tokens"].items():
            value = properties.normalise_prediction(r["property"], token)
            if value is not None:
                weights[value] += prob
        if weights:
            out.append(_dist_row((r["task"], r["item_id"], r["property"]), weights))
    return pl.DataFrame(out, schema=_DIST_SCHEMA)
