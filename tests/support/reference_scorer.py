"""An independent recomputation of metrics.json from a study's answer files, by the paper's
official definitions, written as plain loops. It shares no code with inward.scoring (rule_sets,
paper_rules, lenient_rules, rule_base, frames, metrics, calibration); only the task registry,
for which properties a task has and whether it is a multiple-choice task. So a test comparing
the two checks both."""

from __future__ import annotations

import json
import string
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from inward.tasks.catalog import task_kind, task_properties

_NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
       "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
_REFUSE_TEXT = ("no nope sorry apologies apology apologize apologise impossible unable cannot "
                "na unpredictable indeterminable indeterminate unpredictability insufficient "
                "unknown sequence random randomness item system unanswerable unavailable "
                "unidentifiable unrelated next undefined")
_REFUSE = {*_REFUSE_TEXT.split(" "), "i cannot"}
_SORRY = ("sorry", "apologies", "apology", "apologize", "apologise")
_KIND = {"first_character": "char", "second_character": "char", "third_character": "char",
         "first_word": "word", "second_word": "word", "third_word": "word",
         "starts_with_vowel": "tf", "among_a_or_c": "tf", "among_b_or_d": "tf",
         "matches_target": "tf", "is_even": "eo", "identity": "text"}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _nopunct(s: str) -> str:
    return "".join(ch for ch in s if ch not in string.punctuation)


def clean_all(s: str) -> str:
    s = _nopunct(s.lower())
    for ch in "\n\r\t":
        s = s.replace(ch, " ")
    return " ".join(s.split())


def clean_check(s: str) -> str:
    return _nopunct(s.lower().strip())


def default_group(raw: str) -> bool:
    c = clean_check(raw)
    if c in _REFUSE or any(w in c for w in _SORRY):
        return False
    if "as an ai" in c or "as an artificial intelligence" in c or "as a language model" in c:
        return False
    return raw not in ("?", " ?", "???", "", " ", "  ", "   ") and "Cauchy Cauchy Cauchy" not in raw


def object_ok(task: str, raw) -> bool:
    if raw is None or raw in _NA or not default_group(raw):
        return False
    if task_kind(task) in ("multiple_choice", "ab_choice"):
        c = clean_check(raw)
        return len(c) == 1 and c.isascii() and c.isalpha()
    return True


def object_value(prop: str, task: str, raw, target):
    if not object_ok(task, raw):
        return None
    c = clean_all(raw)
    n = {"first": 0, "second": 1, "third": 2}.get(prop.split("_")[0])
    if prop.endswith("_character"):
        return c[n].strip() if n < len(c) else None
    if prop.endswith("_word"):
        words = c.split()
        return words[n] if n < len(words) else None
    if prop == "starts_with_vowel":
        return ("true" if c[0] in "aeiou" else "false") if c else None
    if prop == "is_even":
        return ("even" if int(c) % 2 == 0 else "odd") if c.isdigit() else None
    if prop == "among_a_or_c":
        return "true" if c in ("a", "c") else "false"
    if prop == "among_b_or_d":
        return "true" if c in ("b", "d") else "false"
    if prop == "matches_target":
        return None if not target else ("true" if target.strip().lower() == c else "false")
    return c


def repeats(ans: str) -> bool:
    t = " ".join(ans.lower().split())
    for size in range(2, len(t)):
        unit = t[:size]
        body = (unit * (len(t) // size + 1))[:len(t)]
        k = 0
        while k < len(t) and t[k] == body[k]:
            k += 1
        if k >= 2 * size + 2:
            return True
    return False


def read_prediction(prop: str, raw):
    if raw is None or raw in _NA or repeats(raw):
        return None
    c = clean_check(raw)
    kind = _KIND[prop]
    ok = {"char": len(c) == 1, "word": len(raw.split()) == 1 and c not in _SORRY,
          "tf": c in ("true", "false"), "eo": c in ("even", "odd")}.get(kind)
    if ok is None:
        ok = default_group(raw)
    return clean_all(raw).strip() if ok else None


class Study:
    def __init__(self, root: Path, props: list[str], split: str = "test"):
        """``split``: test (the held-out tasks) or heldin (the held-in items)."""
        self.root = Path(root)
        self.split = split
        self.items = _read(self.root / f"data/items/{split}.jsonl")
        # an item of the paper's release is asked the properties its files have
        self.keys = [(it["task"], it["item_id"], p) for it in self.items for p in props
                     if p in it.get("hypothetical", task_properties(it["task"]))]
        self.by_item = {(it["task"], it["item_id"]): it for it in self.items}

    def objects(self, agent: str) -> dict:
        records = _read(self.root / f"results/object/{agent}/{self.split}.jsonl")
        answers = {(a["task"], a["item_id"]): a.get("response") for a in records}
        # a prompt whose mode of n had no mode is dropped: no behaviour to score there
        dropped = {(a["task"], a["item_id"]) for a in records if a.get("dropped")}
        return {(t, i, p): None if (t, i) in dropped else
                object_value(p, t, answers.get((t, i)), self.by_item[(t, i)]["target"])
                for t, i, p in self.keys}

    def predictions(self, agent: str) -> dict:
        return {(a["task"], a["item_id"], a["property"]): read_prediction(a["property"],
                                                                         a.get("response"))
                for a in _read(self.root / f"results/hypothetical/{agent}/{self.split}.jsonl")
                if not a.get("dropped")}

    def calibration(self, object_agent: str, hypo_agent: str, n_bins: int, top_k: int):
        samples = {(s["task"], s["item_id"]): s["samples"]
                   for s in _read(self.root / f"results/calibration/{object_agent}/object.jsonl")}
        hypo = {(h["task"], h["item_id"], h["property"]): h["samples"] for h in
                _read(self.root / f"results/calibration/{hypo_agent}/hypothetical.jsonl")}
        xs, ys = [], []
        for t, i, p in sorted(self.keys):
            if (t, i, p) not in hypo:
                continue
            vals = [object_value(p, t, r, self.by_item[(t, i)]["target"])
                    for r in samples.get((t, i), [])]
            vals = [v for v in vals if v is not None]
            if not vals:
                continue
            counts = Counter(vals)
            hyp = Counter(read_prediction(p, r) for r in hypo[(t, i, p)])
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
            for v, c in top:
                xs.append(c / len(vals))
                ys.append(hyp.get(v, 0) / len(hypo[(t, i, p)]))
        return binned_mad(xs, ys, n_bins)

    def variant_calibration(self, object_agent: str, hypo_agent: str, prop: str, n_bins: int,
                            top_k: int):
        """The calibration variant's MAD: sample i of the target and of the predictor make a
        pair, dropped whole when the object sample has no value (the official script's
        ``ask_question`` returns None)."""
        items = {(it["task"], it["item_id"]): it
                 for it in _read(self.root / "data/items/calibration.jsonl")}
        obj = {(s["task"], s["item_id"]): s["samples"] for s in _read(
            self.root / f"results/calibration/{object_agent}/variant_object.jsonl")}
        hyp = {(s["task"], s["item_id"]): s["samples"] for s in _read(
            self.root / f"results/calibration/{hypo_agent}/variant_hypothetical.jsonl")}
        xs, ys = [], []
        for key in sorted(items):
            pairs = [(object_value(prop, key[0], o, items[key].get("target")), h)
                     for o, h in zip(obj[key], hyp[key], strict=True)]
            pairs = [(v, h) for v, h in pairs if v is not None]
            if not pairs:
                continue
            counts = Counter(v for v, _ in pairs)
            said = Counter(read_prediction(prop, h) for _, h in pairs)
            for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]:
                xs.append(c / len(pairs))
                ys.append(said.get(v, 0) / len(pairs))
        return binned_mad(xs, ys, n_bins)


def binned_mad(xs: list[float], ys: list[float], n_bins: int):
    """100 x mean over equal-frequency bins of x of |mean x - mean y| (None without points)."""
    if not xs:
        return None
    # pandas.qcut(x, q, duplicates="drop"): quantile edges, duplicates dropped, the lowest
    # edge included, bins closed on the right
    edges = sorted(set(np.percentile(xs, np.linspace(0, 1, n_bins + 1) * 100).tolist()))
    bins = defaultdict(list)
    for x, y in zip(xs, ys, strict=True):
        b = 0
        while b + 1 < len(edges) - 1 and x > edges[b + 1]:
            b += 1
        bins[b].append((x, y))
    gaps = [abs(np.mean([x for x, _ in v]) - np.mean([y for _, y in v]))
            for _, v in sorted(bins.items())]
    return 100 * float(np.mean(gaps))


def _acc(pairs: list[tuple]) -> tuple:
    """pairs: (task, property, truth, prediction) -> (accuracy, n, mode baseline)."""
    if not pairs:
        return None, 0, None
    right = sum(pred == truth for _, _, truth, pred in pairs)
    groups = defaultdict(list)
    for t, p, truth, _ in pairs:
        groups[(t, p)].append(truth)
    hits = 0
    for values in groups.values():
        counts = Counter(values)
        best = max(counts.values())
        mode = min(v for v in counts if counts[v] == best)
        hits += counts[mode]
    return right / len(pairs), len(pairs), hits / len(pairs)


def score(study: Study, truth: dict, preds: dict) -> dict:
    keep, comp = [], []
    for key, value in truth.items():
        if value is None or key not in preds:
            continue
        keep.append((key[0], key[2], value, preds[key]))
        if preds[key] is not None:
            comp.append((key[0], key[2], value, preds[key]))
    a, n, b = _acc(keep)
    ac, nc, bc = _acc(comp)
    return {"accuracy": a, "n": n, "baseline": b, "accuracy_compliant": ac, "n_compliant": nc,
            "baseline_compliant": bc}


def shift(study: Study, old: dict, new: dict, preds: dict) -> dict:
    out = {"new": {}, "old": {}}
    for suffix in ("", "_compliant"):
        rows = [(k, old[k], new[k], preds[k]) for k in old
                if old[k] is not None and new[k] is not None and old[k] != new[k] and k in preds
                and (suffix == "" or preds[k] is not None)]
        for which, col in (("new", 2), ("old", 1)):
            a, n, b = _acc([(k[0], k[2], r[col], r[3]) for r in rows for k in [r[0]]])
            out[which] |= {f"accuracy{suffix}": a, f"n{suffix}": n, f"baseline{suffix}": b}
    return out


def recompute(root: Path) -> dict:
    """{target: {role: numbers}} for the comparable numbers of metrics.json; with
    ``cross.scaling`` and ``tasks.n_held_in_items`` in params.yaml, the branches' too."""
    import yaml

    params = yaml.safe_load((Path(root) / "params.yaml").read_text())
    models = [m for m, entry in params["models"].items() if entry.get("under_study", True)]
    source = (params.get("shift") or {}).get("source")
    calib = params["calibration"]
    variant = calib.get("variant")
    study = Study(root, params["tasks"]["properties"])
    out = {}
    for m in models:
        shifted = (source is not None and source != m) or len(models) > 1
        self_truth = study.objects(f"{m}__self")
        res = {"untrained": score(study, study.objects(m), study.predictions(m)),
               "self": score(study, self_truth, study.predictions(f"{m}__self")),
               "cross": {m2: score(study, self_truth, study.predictions(f"{m2}__cross__{m}"))
                         for m2 in models if m2 != m}}
        cal = {"untrained": study.calibration(m, m, calib["n_bins"], calib["top_k"]),
               "self": study.calibration(f"{m}__self", f"{m}__self", calib["n_bins"],
                                         calib["top_k"]),
               "cross": {m2: study.calibration(f"{m}__self", f"{m2}__cross__{m}",
                                               calib["n_bins"], calib["top_k"])
                         for m2 in models if m2 != m}}
        res["calibration_mad"] = cal
        if variant:
            def vmad(o_agent, h_agent, v=variant):
                return study.variant_calibration(o_agent, h_agent, v["property"],
                                                 calib["n_bins"], calib["top_k"])
            res["calibration_mad_variant"] = {
                "untrained": vmad(m, m), "self": vmad(f"{m}__self", f"{m}__self"),
                "cross": {m2: vmad(f"{m}__self", f"{m2}__cross__{m}")
                          for m2 in models if m2 != m}}
        if shifted:
            res["shift"] = shift(study, self_truth, study.objects(f"{m}__shift"),
                                 study.predictions(f"{m}__shift"))
        res["entropy_matched"] = entropy_bars(study, m, models, study.objects(m), self_truth,
                                              shifted)
        pred_self = study.predictions(f"{m}__self")
        res["power"] = {m2: power_pair(self_truth, pred_self,
                                       study.predictions(f"{m2}__cross__{m}"))
                        for m2 in models if m2 != m}
        scaling = (params.get("cross") or {}).get("scaling") or []
        if scaling:
            res["cross_scaling"] = cross_scaling(study, m, models, scaling, self_truth, res)
        if params["tasks"].get("n_held_in_items"):
            res["held_in"] = held_in(Study(root, params["tasks"]["properties"], "heldin"), m,
                                     models)
        out[m] = res
    return out


def _lines(path: Path) -> int:
    return len([line for line in path.read_text().splitlines() if line.strip()])


def cross_scaling(study: Study, m: str, models: list[str], scaling: list[float],
                  self_truth: dict, res: dict) -> dict:
    """Per cross predictor: each share's accuracy on M1__self's behaviour and its examples
    (lines of data/sft/cross/M1@share.jsonl), the full cross finetune, and the self line."""
    out = {}
    for m2 in models:
        if m2 == m:
            continue
        points = {}
        for k in scaling:
            label = f"{k:g}"
            points[label] = {"share": float(k),
                             "n_examples": _lines(study.root / f"data/sft/cross/{m}@{label}.jsonl"),
                             **score(study, self_truth,
                                     study.predictions(f"{m2}__cross__{m}@{label}"))}
        full = {"share": 1.0, "n_examples": _lines(study.root / f"data/sft/cross/{m}.jsonl"),
                **res["cross"][m2]}
        out[m2] = {"points": points, "full": full,
                   "self": {k: res["self"][k] for k in ("accuracy", "baseline",
                                                        "accuracy_compliant",
                                                        "baseline_compliant")}}
    return out


def held_in(study: Study, m: str, models: list[str]) -> dict:
    """The held-out roles on the held-in items, with the power of self vs cross."""
    truth_self = study.objects(f"{m}__self")
    pred_self = study.predictions(f"{m}__self")
    cross = {m2: study.predictions(f"{m2}__cross__{m}") for m2 in models if m2 != m}
    return {"untrained": score(study, study.objects(m), study.predictions(m)),
            "self": score(study, truth_self, pred_self),
            "cross": {m2: score(study, truth_self, p) for m2, p in cross.items()},
            "power": {m2: power_pair(truth_self, pred_self, p) for m2, p in cross.items()}}


def power_pair(truth: dict, pred_a: dict, pred_b: dict) -> dict:
    """Items needed to detect A minus B at 80% power, alpha 0.05 two-sided, per policy:
    n = ((z_0.975 + z_0.8) * s / D)^2 with D = sum(d_i) / sum(m_i) and
    s^2 = var(d_i - D m_i) / mean(m)^2 over items i (d_i: hits of A - hits of B)."""
    import math
    from statistics import NormalDist

    out = {}
    for policy in ("keep_all", "compliant"):
        items: dict = defaultdict(lambda: [0.0, 0])
        for key, value in truth.items():
            if value is None or key not in pred_a or key not in pred_b:
                continue
            if policy == "compliant" and (pred_a[key] is None or pred_b[key] is None):
                continue
            cell = items[(key[0], key[1])]
            cell[0] += (pred_a[key] == value) - (pred_b[key] == value)
            cell[1] += 1
        n = len(items)
        block = {"n_items": n, "n_tasks": len({t for t, _ in items}), "diff": None,
                 "item_sd": None, "n_items_needed": None, "n_items_per_task": None}
        if n:
            diff = sum(d for d, _ in items.values()) / sum(r for _, r in items.values())
            block["diff"] = diff
        if n >= 2:
            resid = [d - diff * r for d, r in items.values()]
            mean = sum(resid) / n
            sd = math.sqrt(sum((x - mean) ** 2 for x in resid) / (n - 1))
            sd /= sum(r for _, r in items.values()) / n
            block["item_sd"] = sd
            z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
            if diff != 0:
                needed = max(2, math.ceil((z * sd / diff) ** 2))
                block["n_items_needed"] = needed
                block["n_items_per_task"] = math.ceil(needed / block["n_tasks"])
        out[policy] = block
    return out


def entropy_matched(first: dict, second: dict) -> dict:
    """The official adjust_for_entropy on two bars, each {key: (label, prediction)}: the
    accuracy, n and mode baseline of each bar's kept rows."""
    import random

    shared = sorted(set(first) & set(second))  # keys (task, item_id, property), sorted
    kept: dict = {"first": [], "second": []}
    for group in sorted({(k[0], k[2]) for k in shared}):
        keys = [k for k in shared if (k[0], k[2]) == group]
        counts_a = Counter(first[k][0] for k in keys)
        counts_b = Counter(second[k][0] for k in keys)
        for label, n_a in sorted(counts_a.items(), key=lambda kv: (-kv[1], kv[0]))[:100]:
            limit = min(n_a, counts_b.get(label, 0))
            for name, bar in (("first", first), ("second", second)):
                rows = [k for k in keys if bar[k][0] == label]
                random.Random("42").shuffle(rows)
                kept[name] += [(k[0], k[2], bar[k][0], bar[k][1]) for k in rows[:limit]]
    out = {}
    for name, pairs in kept.items():
        a, n, b = _acc(pairs)
        out[name] = {"accuracy": a, "n": n, "baseline": b}
    return out


def entropy_bars(study: Study, m: str, models: list[str], truth_untrained: dict,
                 truth_self: dict, shifted: bool | None = None) -> dict:
    """The bars of inward's entropy-matched comparisons, written out from their definitions."""
    def bar(truth, preds, compliant=False):
        return {k: (v, preds[k]) for k, v in truth.items()
                if v is not None and k in preds and (not compliant or preds[k] is not None)}

    pred_self = study.predictions(f"{m}__self")
    out = {"self_training": (bar(truth_untrained, study.predictions(m)),
                             bar(truth_self, pred_self))}
    if shifted if shifted is not None else len(models) > 1:
        new = study.objects(f"{m}__shift")
        pred = study.predictions(f"{m}__shift")
        changed = {k for k in truth_self if truth_self[k] is not None
                   and new.get(k) is not None and truth_self[k] != new[k] and k in pred}
        out["shift"] = (bar({k: truth_self[k] for k in changed}, pred, True),
                        bar({k: new[k] for k in changed}, pred, True))
    for m2 in models:
        if m2 != m:
            out[f"self_vs_cross_compliant:{m2}"] = (
                bar(truth_self, pred_self, True),
                bar(truth_self, study.predictions(f"{m2}__cross__{m}"), True))
    return {name: entropy_matched(a, b) for name, (a, b) in out.items()}


def compare(reference: dict, metrics: dict, tol: float = 1e-9) -> list[str]:
    """Every mismatch between the recomputation and metrics.json (empty when equal)."""
    problems = []

    def same(a, b, where):
        if a is None or b is None:
            if a is not b and not (a is None and b is None):
                problems.append(f"{where}: {a} != {b}")
        elif abs(a - b) > tol:
            problems.append(f"{where}: {a} != {b}")

    for m, ref in reference.items():
        got = metrics["targets"][m]
        for role in ("untrained", "self"):
            for k, v in ref[role].items():
                same(v, got[role][k], f"{m}.{role}.{k}")
        for m2, block in ref["cross"].items():
            for k, v in block.items():
                same(v, got["cross"][m2][k], f"{m}.cross.{m2}.{k}")
        if "calibration_mad_variant" in ref:
            vcal = got["calibration_mad_variant"]
            for role in ("untrained", "self"):
                same(ref["calibration_mad_variant"][role], vcal[role]["mad"],
                     f"{m}.mad_variant.{role}")
            for m2, v in ref["calibration_mad_variant"]["cross"].items():
                same(v, vcal["cross"][m2]["mad"], f"{m}.mad_variant.cross.{m2}")
        cal = got["calibration_mad"]
        same(ref["calibration_mad"]["untrained"], cal["untrained"]["mad"], f"{m}.mad.untrained")
        same(ref["calibration_mad"]["self"], cal["self"]["mad"], f"{m}.mad.self")
        for m2, v in ref["calibration_mad"]["cross"].items():
            same(v, cal["cross"][m2]["mad"], f"{m}.mad.cross.{m2}")
        for which in ref.get("shift", {}):
            for k, v in ref["shift"][which].items():
                same(v, got["shift"][which][k], f"{m}.shift.{which}.{k}")
        for m2, policies in ref.get("power", {}).items():
            for policy, numbers in policies.items():
                for k, v in numbers.items():
                    same(v, got["power"]["self_vs_cross"][m2][policy][k],
                         f"{m}.power.{m2}.{policy}.{k}")
        for m2, entry in ref.get("cross_scaling", {}).items():
            mine = got["cross_scaling"][m2]
            if sorted(entry["points"]) != sorted(mine["points"]):
                problems.append(f"{m}.cross_scaling.{m2}: shares {sorted(entry['points'])} "
                                f"!= {sorted(mine['points'])}")
            for label, numbers in entry["points"].items():
                for k, v in numbers.items():
                    same(v, mine["points"].get(label, {}).get(k),
                         f"{m}.cross_scaling.{m2}.{label}.{k}")
            for part in ("full", "self"):
                for k, v in entry[part].items():
                    same(v, mine[part][k], f"{m}.cross_scaling.{m2}.{part}.{k}")
        if "cross_scaling" in got and "cross_scaling" not in ref:
            problems.append(f"{m}.cross_scaling: in metrics.json, not in params.yaml")
        if "held_in" in ref:
            mine = got["held_in"]
            for role in ("untrained", "self"):
                for k, v in ref["held_in"][role].items():
                    same(v, mine[role][k], f"{m}.held_in.{role}.{k}")
            for m2, block in ref["held_in"]["cross"].items():
                for k, v in block.items():
                    same(v, mine["cross"][m2][k], f"{m}.held_in.cross.{m2}.{k}")
            for m2, policies in ref["held_in"]["power"].items():
                for policy, numbers in policies.items():
                    for k, v in numbers.items():
                        same(v, mine["power"]["self_vs_cross"][m2][policy][k],
                             f"{m}.held_in.power.{m2}.{policy}.{k}")
        elif "held_in" in got:
            problems.append(f"{m}.held_in: in metrics.json, not in params.yaml")
        for name, bars in ref.get("entropy_matched", {}).items():
            node = got["entropy_matched"]
            for part in name.split(":"):
                node = node[part]
            for which, numbers in bars.items():
                for k, v in numbers.items():
                    same(v, node[which][k], f"{m}.entropy_matched.{name}.{which}.{k}")
    return problems
