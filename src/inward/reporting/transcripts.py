"""The transcript table: every held-out answer of a study with what was read from it.

One row per (comparison, predictor, held-out item, property), built from the comparisons of
``inward.study.layout.comparisons`` and the answer files they name. A row holds the chats as
sent (``tasks.prompts``), the raw answers, the values the study's rule set read from them
(``scoring.frames``, the functions ``evaluate`` scores with) and whether the prediction was
right, so that every accuracy of ``reports/metrics.json`` recomputes from this table alone
(docs/ARCHITECTURE.md, "Transcript table", lists the columns and how).

Roles, as in ``scoring.evaluation``: ``untrained`` (M1 predicting M1), ``self`` (M1__self
predicting itself), ``cross:<M2>`` (M2__cross__M1 predicting M1__self) and ``shift`` (M1__shift
predicting itself; ``old_value`` is M1__self's value, ``new_value`` its own), and with
``cross.scaling`` ``cross:<M2>@<share>`` (M2__cross__M1@share predicting M1__self).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl

from inward.records.jsonl import read_jsonl
from inward.scoring.frames import KEY, object_values, predictions
from inward.scoring.rule_sets import DEFAULT_RULES, RuleSet, get_rule_set
from inward.study import layout
from inward.tasks import prompts
from inward.tasks.catalog import Item

SCHEMA = {
    "target_model": pl.Utf8, "role": pl.Utf8, "agent": pl.Utf8, "target_agent": pl.Utf8,
    "task": pl.Utf8, "item_id": pl.Utf8, "property": pl.Utf8,
    "object_messages": pl.Utf8, "object_response": pl.Utf8, "object_dropped": pl.Boolean,
    "target_value": pl.Utf8, "object_compliant": pl.Boolean,
    "hypothetical_messages": pl.Utf8, "hypothetical_response": pl.Utf8,
    "hypothetical_dropped": pl.Boolean, "prediction": pl.Utf8,
    "hypothetical_compliant": pl.Boolean, "scored": pl.Boolean, "correct": pl.Boolean,
    "old_agent": pl.Utf8, "old_response": pl.Utf8, "old_value": pl.Utf8,
    "new_value": pl.Utf8, "changed": pl.Boolean, "correct_old": pl.Boolean,
}


def roles(comp: layout.Comparison, scaled: Mapping[str, Mapping[str, str]] | None = None
          ) -> Iterator[tuple[str, str, str, str | None]]:
    """(role, predictor, target agent, old agent or None) of every scored role of one
    comparison, named as ``scoring.evaluation`` names them; ``scaled`` (M2 -> share label ->
    agent, ``layout.scaled_cross``): the cross-scaling predictors, role ``cross:M2@share``."""
    yield "untrained", comp.untrained, comp.untrained, None
    yield "self", comp.self_trained, comp.self_trained, None
    for m2, agent in comp.cross.items():
        yield f"cross:{m2}", agent, comp.self_trained, None
    for m2, by_label in (scaled or {}).items():
        for label, agent in by_label.items():
            yield f"cross:{m2}{layout.SCALE_SEP}{label}", agent, comp.self_trained, None
    if comp.shift:
        yield "shift", comp.shift, comp.shift, comp.self_trained


def _roles(models: list[str], shift_source: str | None, scaling: Sequence[float]
           ) -> Iterator[tuple[layout.Comparison, tuple[str, str, str, str | None]]]:
    scaled = layout.scaled_cross(models, scaling)
    for comp in layout.comparisons(models, layout.ShiftPlan(shift_source)):
        for role in roles(comp, scaled.get(comp.target)):
            yield comp, role


def answer_files(models: list[str], shift_source: str | None = None,
                 scaling: Sequence[float] = ()) -> list[str]:
    """Every answer file the table reads (the rule's inputs): the targets' and old agents'
    held-out object-level answers and every predictor's hypothetical answers."""
    files = []
    for _, (_, agent, target, old) in _roles(models, shift_source, scaling):
            files += [layout.object_path(target, "test"), layout.hypo_path(agent)]
            files += [layout.object_path(old, "test")] if old else []
    return list(dict.fromkeys(files))


def _chat_json(messages: list[dict]) -> str:
    return json.dumps(messages, ensure_ascii=False)


class _Answers:
    """Each agent's held-out answers, read once: raw rows by key, and the frames the rule set
    reads from them."""

    def __init__(self, items: list[Item], props: list[str], rules: RuleSet):
        self.items, self.props, self.rules = items, props, rules
        self._object: dict[str, tuple[dict, set, dict]] = {}
        self._hypo: dict[str, tuple[dict, set, dict]] = {}

    def object(self, agent: str) -> tuple[dict, set, dict]:
        """(raw response by (task, item_id), dropped (task, item_id), (value, compliant) by
        key) of an agent's object-level answers."""
        if agent not in self._object:
            rows = read_jsonl(layout.object_path(agent, "test"))
            values = object_values(self.items, rows, self.props, self.rules)
            self._object[agent] = (
                {(r["task"], r["item_id"]): r.get("response") for r in rows},
                {(r["task"], r["item_id"]) for r in rows if r.get("dropped")},
                {(v["task"], v["item_id"], v["property"]): (v["value"], v["compliant"])
                 for v in values.iter_rows(named=True)})
        return self._object[agent]

    def hypothetical(self, agent: str) -> tuple[dict, set, dict]:
        """(raw response, dropped keys, prediction) by (task, item_id, property)."""
        if agent not in self._hypo:
            rows = read_jsonl(layout.hypo_path(agent))
            preds = predictions(rows, self.rules)
            self._hypo[agent] = (
                {(r["task"], r["item_id"], r["property"]): r.get("response") for r in rows},
                {(r["task"], r["item_id"], r["property"]) for r in rows if r.get("dropped")},
                {tuple(p[k] for k in KEY): p["prediction"] for p in preds.iter_rows(named=True)})
        return self._hypo[agent]


def transcript_table(*, models: list[str], test_items: str, props: list[str],
                     demonstration: bool, rule_set: str | RuleSet = DEFAULT_RULES,
                     shift_source: str | None = None,
                     scaling: Sequence[float] = ()) -> pl.DataFrame:
    """The transcript table of the study of ``models`` (module doc), read from the layout's
    answer files under the current directory. ``demonstration``: whether the object-level
    chats began with the worked exchange (``generation.demonstration``), so that the chats
    are the ones sent; ``rule_set``: ``metrics.rules``; ``shift_source``: ``shift.source``
    (which models have a shift, as ``evaluate`` reads it); ``scaling``: ``cross.scaling``
    (the cross-scaling predictors)."""
    rules = get_rule_set(rule_set)
    items = [Item.from_dict(r) for r in read_jsonl(test_items)]
    pairs = prompts.study_pairs(items, props)
    object_chats = {(it.task, it.item_id): _chat_json(prompts.object_chat(it, demonstration))
                    for it in items}
    hypo_chats = {(it.task, it.item_id, p): _chat_json(prompts.hypothetical_chat(it, p))
                  for it, p in pairs}
    answers = _Answers(items, props, rules)
    rows = []
    for comp, (role, agent, target, old) in _roles(models, shift_source, scaling):
        t_raw, t_dropped, t_values = answers.object(target)
        h_raw, h_dropped, h_pred = answers.hypothetical(agent)
        o_raw, _, o_values = answers.object(old) if old else ({}, set(), {})
        for it, p in pairs:
            item_key, key = (it.task, it.item_id), (it.task, it.item_id, p)
            value, compliant = t_values.get(key, (None, None))
            asked = key in h_pred  # a hypothetical answer that is not dropped
            prediction = h_pred.get(key)
            scored = value is not None and asked
            row = {"target_model": comp.target, "role": role, "agent": agent,
                   "target_agent": target, "task": it.task, "item_id": it.item_id,
                   "property": p, "object_messages": object_chats[item_key],
                   "object_response": t_raw.get(item_key),
                   "object_dropped": item_key in t_dropped, "target_value": value,
                   "object_compliant": compliant,
                   "hypothetical_messages": hypo_chats[key],
                   "hypothetical_response": h_raw.get(key),
                   "hypothetical_dropped": key in h_dropped, "prediction": prediction,
                   "hypothetical_compliant": asked and prediction is not None,
                   "scored": scored, "correct": scored and prediction == value}
            if old:
                old_value = o_values.get(key, (None, None))[0]
                changed = old_value is not None and value is not None and old_value != value
                row |= {"old_agent": old, "old_response": o_raw.get(item_key),
                        "old_value": old_value, "new_value": value, "changed": changed,
                        "correct_old": (old_value is not None and asked
                                        and prediction == old_value)}
            rows.append(row)
    return pl.DataFrame(rows, schema=SCHEMA)


def write_transcripts(table: pl.DataFrame, parquet: str | Path, csv: str | Path) -> None:
    """The table as parquet (typed) and CSV (the chats as JSON text)."""
    for path in (parquet, csv):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(parquet)
    table.write_csv(csv)
