from pathlib import Path

import pytest

from inward.study import layout
from inward.study.layout import Agent, parse_agent


@pytest.mark.parametrize("agent", [Agent("m1"), Agent("m1", "self"), Agent("m1", "shift"),
                                   Agent("m2", "cross", "m1"), Agent("smol-v2.1", "self")])
def test_agent_names_round_trip(agent):
    assert parse_agent(agent.name) == agent


@pytest.mark.parametrize("bad", ["m1__bogus", "m1__cross", "m1__self__x", "a__b__c__d"])
def test_malformed_agent_names_are_rejected(bad):
    with pytest.raises(ValueError, match="malformed agent name"):
        parse_agent(bad)


def test_two_models_give_all_ordered_pairs():
    comps = {c.target: c for c in layout.comparisons(["a", "b"])}
    assert comps["a"].cross == {"b": "b__cross__a"}
    assert comps["b"].cross == {"a": "a__cross__b"}
    assert comps["a"].self_trained == "a__self" and comps["a"].shift == "a__shift"
    names = {a.name for a in layout.finetuned_agents(["a", "b"])}
    assert names == {"a__self", "b__self", "b__cross__a", "a__cross__b", "a__shift", "b__shift"}


def test_three_models_give_six_cross_agents():
    agents = [a for a in layout.finetuned_agents(["a", "b", "c"]) if a.kind == "cross"]
    assert len(agents) == 6


def test_single_model_has_no_cross_or_shift():
    (comp,) = layout.comparisons(["a"])
    assert comp.cross == {} and comp.shift is None
    assert layout.object_needs(["a"]) == [("a", "train"), ("a", "test"), ("a__self", "test")]


def test_shift_imitates_the_next_model_cyclically():
    assert layout.shift_source(["a", "b", "c"], "a") == "b"
    assert layout.shift_source(["a", "b", "c"], "c") == "a"


def test_shift_agent_continues_the_self_adapter():
    assert Agent("a", "shift").adapter_chain == Agent("a", "self")
    assert Agent("a", "self").adapter_chain is None


def test_finetune_sources_replay_the_trainees_own_behaviour():
    assert layout.finetune_sources("a__self") == ["data/sft/self/a.jsonl",
                                                  "data/sft/replay/a.jsonl"]
    # cross: the target's self-trained labels, the trainee's own answers replayed
    assert layout.finetune_sources("b__cross__a") == ["data/sft/cross/a.jsonl",
                                                      "data/sft/replay/b.jsonl"]
    assert layout.finetune_sources("a__shift") == ["data/sft/shift/a.jsonl"]
    with pytest.raises(ValueError):
        layout.finetune_sources("a")


def test_study_files_lie_under_the_dvc_outs_and_cover_every_kind_of_output():
    import yaml as _yaml

    from inward.study.layout import study_files

    root = Path(__file__).resolve().parents[2]
    stage = _yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["study"]
    outs = [next(iter(o)) for o in stage["outs"] + stage["metrics"]]
    files = study_files(["a", "b"])
    assert len(files) == len(set(files))
    for f in files:
        assert any(f == o or f.startswith(o + "/") for o in outs), f
    for o in outs:  # no DVC out that the study does not produce
        assert any(f == o or f.startswith(o + "/") for f in files), o
    assert "results/adapters/b__cross__a" in files and "data/sft/shift/a.jsonl" in files
    assert "results/object/a__shift/test.jsonl" in files
    one = study_files(["a"])
    assert "data/sft/cross/a.jsonl" not in one and "results/adapters/a__self" in one
    assert not any("shift" in f or "cross" in f for f in one)


def test_calibrated_agent_patterns_match_exactly_the_calibration_agents():
    import re

    models = ["m1", "gpt-4o-mini", "llama_3.1-8b"]
    objects, hypos = layout.calibration_agents(models)
    every = {a.name for a in layout.finetuned_agents(models)} | set(models)
    for pattern, wanted in ((layout.CALIBRATED_OBJECT_AGENT, set(objects)),
                            (layout.CALIBRATED_HYPO_AGENT, set(hypos))):
        assert {a for a in every if re.fullmatch(pattern, a)} == wanted
    assert any(a.endswith("__shift") for a in every)
