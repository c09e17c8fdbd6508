"""metrics.json equals an independent recomputation by the official definitions
(tests/reference_scorer.py) on randomly drawn held-out studies: answers drawn with a seed from
pools of tricky replies (punctuation, refusals, spaces, option letters in sentences, yes/no,
degenerate repetitions), several tasks and properties, two models."""

import random
from pathlib import Path

import pytest
import yaml

from inward.config.types import CalibrationConfig
from inward.records.jsonl import read_jsonl, write_jsonl
from inward.scoring.evaluation import evaluate_study
from inward.study import layout
from inward.tasks.catalog import Item, task_properties
from reference_scorer import compare, recompute

MODELS = ["a", "b"]
PROPS = ["first_character", "second_character", "first_word", "second_word",
         "starts_with_vowel", "among_a_or_c", "matches_target"]
TEXT = ["Red green blue", "red, green", "I went home", "Sorry, I can't", "no", "?", "",
        "  ", "None", "Emerald teal", "a", "well-known fact", "Olive. Navy.", "r e d",
        "as an AI I cannot", "x" * 3, "Don't know", "blue\nred"]
OPTIONS = ["A", "B", "(C)", "D.", "The answer is D.", "B) Lima", "b", "a - now", "Sorry",
           "A\n", "c"]
HYPO_CHAR = ["r", "R.", "e", " ", '" "', "ab", "", "o", "redred red", "g"]
HYPO_WORD = ["red", "Red.", "green", "red green", "sorry", "blue", "lionlionlion", "", "teal",
             "I"]
HYPO_TF = ["true", "false", "True.", "yes", "no", "FALSE", "maybe", "truetruetrue", ""]


def hypo_pool(prop):
    if prop.endswith("_character"):
        return HYPO_CHAR
    return HYPO_WORD if prop.endswith("_word") else HYPO_TF


def make_study(root, seed, n_items=12, n_samples=5, dropped=0.0):
    """A random held-out study; ``dropped``: the share of answer rows that a hosted model's
    mode of n left without an answer (``"dropped": "mode_of_n"``)."""
    rng = random.Random(seed)
    drop_rng = random.Random(f"drop:{seed}")  # its own stream: the rest is drawn as before

    def maybe_dropped(row):
        if dropped and drop_rng.random() < dropped:
            return {**row, "response": None, "dropped": "mode_of_n"}
        return row
    items = ([Item("colours", f"c{i}", f"colours {i}", None, "test") for i in range(n_items)]
             + [Item("capitals_mc", f"m{i}", f"capital {i}", None, "test")
                for i in range(n_items // 2)]
             + [Item("myopic_reward", f"r{i}", f"reward {i}", rng.choice("AB"), "test")
                for i in range(n_items // 2)])
    write_jsonl([it.to_dict() for it in items], root / layout.items_path("test"))

    def answer(it):
        return rng.choice(TEXT if it.task == "colours" else OPTIONS)

    agents = [*MODELS, *(f"{m}__self" for m in MODELS), *(f"{m}__shift" for m in MODELS),
              "b__cross__a", "a__cross__b"]
    props_of = {it: [p for p in PROPS if p in task_properties(it.task)]
                for it in items}
    for agent in agents:
        if "__cross__" not in agent:
            write_jsonl([maybe_dropped({"task": it.task, "item_id": it.item_id,
                                        "response": answer(it)})
                         for it in items], root / layout.object_path(agent, "test"))
        write_jsonl([maybe_dropped({"task": it.task, "item_id": it.item_id, "property": p,
                                    "response": rng.choice(hypo_pool(p))})
                     for it in items for p in props_of[it]], root / layout.hypo_path(agent))
        if "__shift" in agent:
            continue
        if "__cross__" not in agent:
            write_jsonl([{"task": it.task, "item_id": it.item_id,
                          "samples": [answer(it) for _ in range(n_samples)]}
                         for it in items], root / layout.object_dist_path(agent))
        write_jsonl([{"task": it.task, "item_id": it.item_id, "property": p,
                      "samples": [rng.choice(hypo_pool(p)) for _ in range(n_samples)]}
                     for it in items for p in props_of[it]], root / layout.hypo_dist_path(agent))
    params = {"models": {m: {} for m in MODELS}, "tasks": {"properties": PROPS},
              "calibration": {"n_bins": rng.choice([2, 4, 10]), "top_k": 3}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return params


def calibration(params):
    """The drawn study's bins and top-k as the typed ``calibration:`` section."""
    return CalibrationConfig(n_samples=5, temperature=1.0, **params["calibration"])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_metrics_equal_an_independent_recomputation(tmp_path, monkeypatch, seed):
    params = make_study(tmp_path, seed)
    monkeypatch.chdir(tmp_path)
    out = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                         calib=calibration(params), n_boot=20, seed=0,
                         metrics_path=layout.METRICS, tables_dir=layout.TABLES)
    reference = recompute(tmp_path)
    assert compare(reference, out) == []
    # the drawn studies exercise both policies and the calibration
    a = out["targets"]["a"]
    assert a["self"]["n_compliant"] < a["self"]["n"]
    assert a["calibration_mad"]["self"]["mad"] is not None
    assert a["shift"]["new"]["n"] > 0


def test_the_comparison_can_fail(tmp_path, monkeypatch):
    params = make_study(tmp_path, 0)
    monkeypatch.chdir(tmp_path)
    out = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                         calib=calibration(params), n_boot=20, seed=0,
                         metrics_path=layout.METRICS, tables_dir=layout.TABLES)
    out["targets"]["a"]["self"]["accuracy_compliant"] += 1e-6
    out["targets"]["b"]["calibration_mad"]["self"]["mad"] += 1e-6
    assert len(compare(recompute(tmp_path), out)) == 2
    lenient = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                             calib=calibration(params), n_boot=20, seed=0,
                             metrics_path=layout.METRICS, tables_dir=layout.TABLES,
                             rule_set="lenient")
    assert len(compare(recompute(tmp_path), lenient)) > 10   # other rules, other numbers


@pytest.mark.parametrize("seed", [0, 1])
def test_rows_without_a_mode_of_n_are_left_out_and_counted(tmp_path, monkeypatch, seed):
    """A hosted model's row whose n answers all differed is dropped, as the paper drops such
    prompts: it counts neither as right nor as non-compliant, and metrics.json counts it."""
    params = make_study(tmp_path, seed, dropped=0.15)
    monkeypatch.chdir(tmp_path)
    out = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                         calib=calibration(params), n_boot=20, seed=0,
                         metrics_path=layout.METRICS, tables_dir=layout.TABLES)
    assert compare(recompute(tmp_path), out) == []
    counted = {}
    for agent in sorted({*MODELS, *(f"{m}__self" for m in MODELS),
                         *(f"{m}__shift" for m in MODELS), "b__cross__a", "a__cross__b"}):
        for level, path in (("object", layout.object_path(agent, "test")),
                            ("hypothetical", layout.hypo_path(agent))):
            if Path(path).exists():
                n = sum(bool(r.get("dropped")) for r in read_jsonl(path))
                if n:
                    counted.setdefault(agent, {"object": 0, "hypothetical": 0})[level] = n
    assert counted and out["mode_of_n_dropped"] == counted
    clean = tmp_path / "clean"
    make_study(clean, seed)
    monkeypatch.chdir(clean)
    full = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                          calib=calibration(params), n_boot=20, seed=0,
                          metrics_path=layout.METRICS, tables_dir=layout.TABLES)
    assert "mode_of_n_dropped" not in full
    assert out["targets"]["a"]["self"]["n"] < full["targets"]["a"]["self"]["n"]


def add_branches(root, seed, params, scaling=(0.25, 0.5), n_examples=9):
    """The optional branches on a drawn study: scaled cross agents (their examples and
    held-out answers) and held-in items with every answer the held-in scores read."""
    rng = random.Random(f"branches:{seed}")
    for m in MODELS:
        examples = [{"messages": [{"role": "user", "content": f"q{i}"},
                                  {"role": "assistant", "content": "a"}]}
                    for i in range(n_examples)]
        write_jsonl(examples, root / layout.sft_path("cross", m))
        for k in scaling:
            write_jsonl(examples[:max(1, round(k * n_examples))],
                        root / layout.scaled_sft_path(m, layout.scale_label(k)))
    items = ([Item("colours", f"h{i}", f"held-in colours {i}", None, layout.HELD_IN)
              for i in range(6)]
             + [Item("myopic_reward", f"hr{i}", f"held-in reward {i}", rng.choice("AB"),
                     layout.HELD_IN) for i in range(4)])
    write_jsonl([it.to_dict() for it in items], root / layout.items_path(layout.HELD_IN))

    def hypos(its):
        return [{"task": it.task, "item_id": it.item_id, "property": p,
                 "response": rng.choice(hypo_pool(p))}
                for it in its for p in PROPS if p in task_properties(it.task)]
    for agent in layout.scaled_cross_agents(MODELS, scaling):
        write_jsonl(hypos(load_test_items(root)), root / layout.hypo_path(agent.name))
    for agent in layout.held_in_object_agents(MODELS):
        write_jsonl([{"task": it.task, "item_id": it.item_id,
                      "response": rng.choice(TEXT if it.task == "colours" else OPTIONS)}
                     for it in items], root / layout.object_path(agent, layout.HELD_IN))
    for agent in layout.held_in_hypothetical_agents(MODELS):
        write_jsonl(hypos(items), root / layout.hypo_held_in_path(agent))
    params = {**params, "cross": {"scaling": list(scaling)},
              "tasks": {**params["tasks"], "n_held_in_items": 5}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return params


def load_test_items(root):
    return [Item.from_dict(r) for r in read_jsonl(root / layout.items_path("test"))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_branch_metrics_equal_an_independent_recomputation(tmp_path, monkeypatch, seed):
    """cross_scaling, held_in and power, on drawn studies: the reference's plain loops give
    the same numbers, and the branch keys appear only when params.yaml turns them on."""
    params = add_branches(tmp_path, seed, make_study(tmp_path, seed))
    monkeypatch.chdir(tmp_path)
    out = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                         calib=calibration(params), n_boot=20, seed=0,
                         metrics_path=layout.METRICS, tables_dir=layout.TABLES,
                         scaling=(0.25, 0.5), held_in_items=layout.items_path(layout.HELD_IN))
    assert compare(recompute(tmp_path), out) == []
    a = out["targets"]["a"]
    assert sorted(a["cross_scaling"]["b"]["points"]) == ["0.25", "0.5"]   # one per share
    assert [p["n_examples"] for p in a["cross_scaling"]["b"]["points"].values()] == [2, 4]
    assert a["cross_scaling"]["b"]["full"]["n_examples"] == 9
    assert a["held_in"]["self"]["n"] > 0 and a["held_in"]["n_items"] == 10
    assert a["power"]["self_vs_cross"]["b"]["keep_all"]["n_items"] == a["self"]["n_items"]
    table = (tmp_path / layout.TABLES / "cross_scaling.csv").read_text().splitlines()
    assert len(table) == 1 + 2 * 3   # per target: two shares and the full cross finetune
    # a changed number is caught
    a["held_in"]["cross"]["b"]["accuracy"] += 1e-6
    a["cross_scaling"]["b"]["points"]["0.5"]["accuracy_compliant"] += 1e-6
    a["power"]["self_vs_cross"]["b"]["compliant"]["item_sd"] = 0.123456
    assert len(compare(recompute(tmp_path), out)) == 3
    # off: no branch key and no scaling table, held-out numbers unchanged
    (tmp_path / layout.TABLES / "cross_scaling.csv").unlink()
    plain = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                           calib=calibration(params), n_boot=20, seed=0,
                           metrics_path=layout.METRICS, tables_dir=layout.TABLES)
    assert "cross_scaling" not in plain["targets"]["a"] and "held_in" not in plain["targets"]["a"]
    assert not (tmp_path / layout.TABLES / "cross_scaling.csv").exists()
    assert plain["targets"]["a"]["self"] == out["targets"]["a"]["self"]


def add_variant(root, seed, params, n_items=8, n_samples=6):
    """The calibration variant on a drawn study: its own items, and sample lists of the
    targets (object) and predictors (hypothetical), with answers that have no second
    character, so that pairs are dropped."""
    rng = random.Random(f"variant:{seed}")
    items = [Item("next_animal", f"v{i}", f"animals {i}", None, "calibration")
             for i in range(n_items)]
    write_jsonl([it.to_dict() for it in items], root / layout.items_path("calibration"))
    animals = ["cat", "cow", "dog", "x", "", "Owl.", "sorry", "ox", "emu emu"]
    objects, hypos = layout.calibration_agents(MODELS)
    for agent in objects:
        write_jsonl([{"task": it.task, "item_id": it.item_id, "response": "cat",
                      "samples": [rng.choice(animals) for _ in range(n_samples)]}
                     for it in items], root / layout.variant_path(agent, "object"))
    for agent in hypos:
        write_jsonl([{"task": it.task, "item_id": it.item_id, "property": "second_character",
                      "response": "a", "samples": [rng.choice(HYPO_CHAR)
                                                   for _ in range(n_samples)]}
                     for it in items], root / layout.variant_path(agent, "hypothetical"))
    variant = {"task": "next_animal", "property": "second_character", "n_items": n_items}
    params = {**params, "calibration": {**params["calibration"], "variant": variant}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return params


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_paired_variant_mad_equals_an_independent_recomputation(tmp_path, monkeypatch,
                                                                     seed):
    params = add_variant(tmp_path, seed, make_study(tmp_path, seed))
    monkeypatch.chdir(tmp_path)
    calib = CalibrationConfig.from_params({"n_samples": 6, "temperature": 1.0,
                                           **params["calibration"]})
    out = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                         calib=calib, n_boot=20, seed=0, metrics_path=layout.METRICS,
                         tables_dir=layout.TABLES,
                         variant_items=layout.items_path("calibration"))
    reference = recompute(tmp_path)
    assert reference["a"]["calibration_mad_variant"]["self"] is not None
    assert compare(reference, out) == []
    block = out["targets"]["a"]["calibration_mad_variant"]
    assert block["task"] == "next_animal" and block["self"]["n_items"] <= 8
    # the pooled MAD is unchanged by the variant beside it
    plain = evaluate_study(models=MODELS, test_items=layout.items_path("test"), props=PROPS,
                           calib=calibration(params | {"calibration": {
                               k: v for k, v in params["calibration"].items()
                               if k != "variant"}}),
                           n_boot=20, seed=0, metrics_path=layout.METRICS,
                           tables_dir=layout.TABLES)
    assert plain["targets"]["a"]["calibration_mad"] == out["targets"]["a"]["calibration_mad"]
    assert "calibration_mad_variant" not in plain["targets"]["a"]
    out["targets"]["b"]["calibration_mad_variant"]["cross"]["a"]["mad"] += 1e-6
    assert len(compare(reference, out)) == 1
