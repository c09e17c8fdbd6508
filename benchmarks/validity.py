"""Is a finished study's behaviour worth predicting? Prints the validity measures of every agent
and checks them against the bars the default study must meet.

    python benchmarks/validity.py [STUDY_DIR]

Reads the answer files under ``results/`` and ``reports/metrics.json``. Measures, per agent:
answers carrying control tokens or chat-marker debris (any answer or sample file), the largest
share of one answer among a sequence or prose task's held-out prompts, object-level and
hypothetical compliance, demonstration leaks; per target: the micro mode share of the
self-trained behaviour, ``behaviour_kept`` and the share of rows the shift changed. Exits 1 when
a bar is missed, so it can gate a run; it asserts nothing about accuracy.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from inward.pipeline.steps import load_items
from inward.records.jsonl import read_jsonl
from inward.scoring.frames import object_values
from inward.scoring.paper_rules import paper_clean
from inward.study import layout
from inward.tasks import catalog

# Control tokens and chat markers of the embedded models, and Gemma's usual debris.
DEBRIS = re.compile(r"<\|[^>]*\|>|<unused\d+>|<(?:start|end)_of_turn>|<bos>|<eos>|<pad>"
                    r"|<image_soft_token>|###\s*(?:Instruction|Response)|\bmendatang\b",
                    re.IGNORECASE)
TOP_SHARE_MAX, MODE_SHARE_MAX = 0.25, 0.60
COMPLIANCE_MIN, KEPT_MIN, CHANGED_MIN = 0.90, 0.60, 0.20


def _texts(row: dict) -> list[str]:
    return [row["response"]] if "response" in row else list(row.get("samples", []))


def debris_counts(study: Path) -> dict[str, int]:
    """Answers (or samples) with control tokens or chat markers, per agent."""
    out: Counter = Counter()
    for f in sorted((study / "results").rglob("*.jsonl")):
        if "adapters" in f.parts:
            continue
        agent = f.parent.name
        out[agent] += sum(bool(DEBRIS.search(t or "")) for r in read_jsonl(f) for t in _texts(r))
    return dict(out)


def top_shares(study: Path, agent: str, items) -> dict[str, tuple[str, float]]:
    """Per sequence or prose task: the commonest held-out answer and its share."""
    path = study / layout.object_path(agent, "test")
    if not path.exists():
        return {}
    by_key = {(a["task"], a["item_id"]): a["response"] for a in read_jsonl(path)}
    out = {}
    for task in sorted({it.task for it in items}):
        if catalog.task_kind(task) not in ("sequence", "prose"):
            continue
        answers = [paper_clean(by_key.get((it.task, it.item_id))) for it in items
                   if it.task == task]
        answer, count = Counter(answers).most_common(1)[0]
        out[task] = (answer, count / len(answers))
    return out


def changed_share(study: Path, model: str, items, props, rule_set) -> float | None:
    """Share of held-out rows, defined before and after, whose value the shift changed."""
    path = study / layout.object_path(f"{model}{layout.SEP}shift", "test")
    if not path.exists():
        return None
    frames = [object_values(items, read_jsonl(study / layout.object_path(a, "test")), props,
                            rule_set).drop_nulls("value")
              for a in (f"{model}{layout.SEP}self", f"{model}{layout.SEP}shift")]
    both = frames[0].join(frames[1], on=["task", "item_id", "property"], suffix="_new")
    return float((both["value"] != both["value_new"]).mean()) if both.height else None


def main(study_dir: str = ".") -> int:
    study = Path(study_dir)
    params = __import__("yaml").safe_load((study / "params.yaml").read_text())
    props, rule_set = params["tasks"]["properties"], params["metrics"]["rules"]
    models = list(params["models"])
    items = load_items(study / layout.items_path("test"))
    metrics = json.loads((study / layout.METRICS).read_text())
    failures: list[str] = []

    def check(ok: bool, what: str) -> str:
        if not ok:
            failures.append(what)
        return "ok" if ok else "MISSED"

    debris = debris_counts(study)
    print(f"{'agent':24s} {'debris':>6s} {'obj compl':>9s} {'hyp compl':>9s} {'leaks':>6s}  "
          "top answer share (sequence/prose tasks)")
    for agent, block in sorted(metrics["agents"].items()):
        kind = layout.parse_agent(agent).kind
        oc, hc = block.get("object_compliance"), block.get("hypothetical_compliance")
        leak = block.get("demonstration_leak")
        shares = top_shares(study, agent, items)
        marks = [check(debris.get(agent, 0) == 0,
                       f"{agent}: {debris.get(agent)} answers with debris")]
        if kind == "self" and oc is not None:
            marks.append(check(oc >= COMPLIANCE_MIN, f"{agent}: object compliance {oc:.2f}"))
        if kind != "base" and hc is not None:
            marks.append(check(hc >= COMPLIANCE_MIN, f"{agent}: hypothetical compliance {hc:.2f}"))
        for task, (answer, share) in shares.items():
            marks.append(check(share <= TOP_SHARE_MAX,
                               f"{agent}: {share:.0%} of {task} answers are {answer!r}"))
        def fmt(x):
            return ("-" if x is None else f"{x:.1%}")
        share_txt = ", ".join(f"{t} {s:.0%} ({a[:18]!r})" for t, (a, s) in shares.items())
        print(f"{agent:24s} {debris.get(agent, 0):6d} {fmt(oc):>9s} {fmt(hc):>9s} "
              f"{fmt(leak):>6s}  {share_txt}  [{' '.join(sorted(set(marks)))}]")
    print()
    print(f"{'target':10s} {'micro mode share':>16s} {'behaviour kept':>15s} "
          f"{'shift changed':>14s}")
    for m in models:
        t = metrics["targets"][m]
        mode = t["self"]["baseline"]  # the commonest value of each group: micro mode share
        kept = t.get("behaviour_kept")
        changed = changed_share(study, m, items, props, rule_set)
        check(mode <= MODE_SHARE_MAX, f"{m}: micro mode share {mode:.2f}")
        check(kept is not None and kept >= KEPT_MIN, f"{m}: behaviour kept {kept}")
        if len(models) > 1:
            check(changed is not None and changed >= CHANGED_MIN, f"{m}: shift changed {changed}")
        print(f"{m:10s} {mode:16.1%} {kept if kept is None else f'{kept:.1%}':>15s} "
              f"{'-' if changed is None else f'{changed:.1%}':>14s}")
    print()
    print("all bars met" if not failures else "missed:\n  " + "\n  ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
