"""Finetuning examples in OpenAI chat format: ``{"messages": [user, assistant]}`` per line.

* prediction examples (self / cross training): the user turn is the hypothetical prompt, the
  assistant turn is the target model's object-level property value, as read by the rule set
  that also scores the study (``metrics.rules``, ``inward.scoring.frames.object_values``);
* object examples (replay and behaviour shift): the object-level chat exactly as it was asked
  (with the worked exchange when demonstrations are on, its answer marked ``"weight": 0`` so it
  is context, never a target) and the model's raw answer with only surrounding whitespace
  stripped, so the behaviour is learned as it was produced; empty answers and refusals are left
  out (``REPLAY_RULES``);
* anchor examples (behaviour shift): property questions about a quoted text, answered by the
  study's rule set.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from inward.records import jsonl
from inward.scoring.lenient_rules import LENIENT
from inward.scoring.rule_sets import DEFAULT_RULES, RuleSet, get_rule_set
from inward.tasks import properties as _props
from inward.tasks.catalog import Item, resource_lines
from inward.tasks.prompts import asks, hypothetical_chat, object_chat

REPLAY_RULES: RuleSet = LENIENT
"""Which object-level answers become object examples, whatever ``metrics.rules`` says: those
the lenient set calls compliant (non-empty, not opening with a refusal)."""


def _example(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}]}


def _capped(groups: dict[tuple, list[dict]], cap: int, seed: int) -> list[dict]:
    """Dedupe each group, shuffle it with a seed, keep ``cap``; then shuffle all together."""
    out = []
    for key in sorted(groups):
        unique = list({tuple((m["role"], m["content"]) for m in e["messages"]): e
                       for e in groups[key]}.values())
        random.Random(f"inward-sft:{seed}:{key}").shuffle(unique)
        out += unique[:cap]
    random.Random(f"inward-sft:{seed}").shuffle(out)
    return out


def prediction_examples(items: Iterable[Item], object_values: pl.DataFrame,
                        properties: list[str], cap_per_group: int, seed: int) -> list[dict]:
    """Hypothetical-question examples labelled with a model's own object-level values.

    ``object_values`` is an object-level property frame (task, item_id, property, value).
    Null values (undefined or non-compliant) are skipped; properties that do not apply to an
    item's task are skipped; at most ``cap_per_group`` examples per (task, property).
    """
    for name in properties:
        _props.get_property(name)
    values = {(t, i, p): v for t, i, p, v in
              object_values.select(["task", "item_id", "property", "value"]).iter_rows()}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for item in items:
        for prop in properties:
            value = values.get((item.task, item.item_id, prop))
            if value is None or not asks(item, prop):
                continue
            groups[(item.task, prop)].append(
                {"messages": [*hypothetical_chat(item, prop),
                              {"role": "assistant", "content": value}]})
    return _capped(groups, cap_per_group, seed)


def object_examples(items: Iterable[Item], responses: Iterable[dict] | Mapping,
                    cap: int, seed: int, demonstration: bool = False,
                    weight: float = 1.0) -> list[dict]:
    """Object-level examples (prompt -> raw stripped answer) for the behaviour-shift finetune.

    ``responses`` is a list of answer records ``{"task", "item_id", "response"}`` or a mapping
    (task, item_id) -> response. Missing answers, empty ones and refusals (``REPLAY_RULES``)
    are skipped; at most ``cap`` examples per task. The prompt is the object-level chat exactly
    as the answers were produced (with the worked exchange when ``demonstration`` is on). A
    ``weight`` other than 1 is written on the answer turn (``"weight": w``): its tokens count w
    times in the loss (``lora.encode_weighted``; a hosted finetune gets round(w) copies
    instead).
    """
    if isinstance(responses, Mapping):
        by_key = dict(responses)
    else:
        by_key = {(r["task"], r["item_id"]): r.get("response") for r in responses}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for item in items:
        response = by_key.get((item.task, item.item_id))
        if not REPLAY_RULES.object_compliant(item.task, response):
            continue
        # the worked exchange is context (weight 0): only the model's own answer is learned
        chat = [{**m, "weight": 0} if m["role"] == "assistant" else m
                for m in object_chat(item, demonstration)]
        answer = {"role": "assistant", "content": response.strip()}
        if weight != 1:
            answer["weight"] = weight
        groups[(item.task,)].append({"messages": [*chat, answer]})
    return _capped(groups, cap, seed)


def train_validation_split(sources: list[list[dict]], validation_fraction: float,
                           seed: int) -> tuple[list[dict], list[dict]]:
    """Mix the examples of several sources (e.g. prediction examples and the trainee's replayed
    object-level answers) into one shuffled training set and one validation set.

    Each source gives ``round(validation_fraction * len)`` examples to validation (at least one
    when the fraction is positive and the source has two or more), so both kinds of example
    are validated; the split and the order depend only on the examples and ``seed``."""
    train, val = [], []
    for i, examples in enumerate(sources):
        examples = list(examples)
        random.Random(f"inward-split:{seed}:{i}").shuffle(examples)
        k = round(validation_fraction * len(examples))
        if validation_fraction > 0 and len(examples) > 1:
            k = min(max(k, 1), len(examples) - 1)
        val += examples[:k]
        train += examples[k:]
    random.Random(f"inward-mix:{seed}").shuffle(train)
    return train, val


def _valid_weight(w) -> bool:
    return isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w < float("inf")


def write_chat_jsonl(examples: Iterable[dict], path: str | Path) -> Path:
    """Write examples as OpenAI chat finetuning JSONL (atomically); checks their shape."""
    examples = list(examples)
    for n, ex in enumerate(examples):
        msgs = ex.get("messages") if isinstance(ex, dict) else None
        if not msgs or any(not isinstance(m, dict) or m.get("role") not in
                           ("system", "user", "assistant") or not isinstance(m.get("content"), str)
                           or not _valid_weight(m.get("weight", 1))
                           for m in msgs) or msgs[-1]["role"] != "assistant":
            raise ValueError(f"example {n} is not a chat example ending with an assistant turn")
    return jsonl.write_jsonl(examples, path)


# Questions about a quoted text, one per property that reads an answer's text: the same
# answer formats as the hypothetical questions, with no reference to the model's own replies.
_ANCHOR_CHAR = ("What is the {nth} character of this text? Count from the start of the text. "
                "Answer with that single character and nothing else.")
_ANCHOR_WORD = "What is the {nth} word of this text? Answer with that single word only."
ANCHOR_QUESTIONS = {
    **{f"{nth}_character": _ANCHOR_CHAR.format(nth=nth) for nth in ("first", "second", "third")},
    **{f"{nth}_word": _ANCHOR_WORD.format(nth=nth) for nth in ("first", "second", "third")},
    "starts_with_vowel": ("Does this text begin with a vowel (a, e, i, o or u)? Answer with "
                          "true or false only."),
}
_ANCHOR_WORDS = ("colours.txt", "countries.txt")
_ANCHOR_PROSE = "stories.txt"


def format_anchor_examples(properties: list[str], per_property: int, seed: int,
                           rule_set: str | RuleSet = DEFAULT_RULES) -> list[dict]:
    """Property questions about a quoted text, answered correctly (``per_property`` per text
    property in ``properties``); the text is, in turn, random colour and country names or a
    sentence of the prose training task.

    Mixed into the behaviour-shift finetune, they keep the answer formats of the hypothetical
    questions (a tiny model finetuned on object-level answers alone forgets them and answers
    "the" to every question) without saying anything about the model's own behaviour, old or
    new: the text is quoted, not the model's reply to any prompt. The prose texts matter: the
    shift data's prose answers mostly start with "The", and a model that saw character
    questions only about word lists still answered "the" to them after a prose prompt. The
    answers are read from the texts by ``rule_set`` (``metrics.rules``)."""
    rules = get_rule_set(rule_set)
    words = [w for f in _ANCHOR_WORDS for w in resource_lines(f) if " " not in w]
    sentences = resource_lines(_ANCHOR_PROSE)
    rng = random.Random(f"inward-anchors:{seed}")
    out = []
    for prop in properties:
        question = ANCHOR_QUESTIONS.get(prop)
        for i in range(per_property if question else 0):
            text = (" ".join(rng.choice(words) for _ in range(rng.randint(3, 6))) if i % 2 == 0
                    else rng.choice(sentences))
            value = rules.object_value(prop, "anchor", text)
            content = (f"Here is a text between the markers below.\n<<<\n{text}\n>>>\n"
                       f"{question}")
            out.append(_example(content, value))
    return out
