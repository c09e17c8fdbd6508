"""The optional branches' names and files: scaled cross agents (cross.scaling) and held-in
items (tasks.n_held_in_items); neither adds a file to a study that leaves it off."""

import re

import pytest

from inward.study import layout
from inward.study.layout import Agent, parse_agent

MODELS = ["a", "b"]


@pytest.mark.parametrize("agent", [Agent("m2", "cross", "m1", "0.5"),
                                   Agent("smol-v2.1", "cross", "gemma3", "0.125")])
def test_scaled_agent_names_round_trip(agent):
    assert parse_agent(agent.name) == agent
    assert agent.name.endswith(f"@{agent.scale}")


@pytest.mark.parametrize("bad", ["m2__cross__m1@", "m2__cross__@0.5", "m2__self@0.5"])
def test_malformed_scaled_names_are_rejected(bad):
    with pytest.raises(ValueError, match="malformed agent name"):
        parse_agent(bad)


def test_scale_labels():
    assert [layout.scale_label(k) for k in (0.5, 0.25, 0.1, 1 / 3)] == ["0.5", "0.25", "0.1",
                                                                       "0.333333"]


def test_a_scaled_cross_agent_trains_on_a_share_of_its_targets_cross_data():
    assert layout.finetune_sources("b__cross__a@0.5") == ["data/sft/cross/a@0.5.jsonl",
                                                          "data/sft/replay/b.jsonl"]
    assert layout.finetune_sources("b__cross__a") == ["data/sft/cross/a.jsonl",
                                                      "data/sft/replay/b.jsonl"]
    assert layout.scaled_cross(MODELS, [0.25, 0.5]) == {
        "a": {"b": {"0.25": "b__cross__a@0.25", "0.5": "b__cross__a@0.5"}},
        "b": {"a": {"0.25": "a__cross__b@0.25", "0.5": "a__cross__b@0.5"}}}


def test_branch_files_and_jobs():
    assert layout.branch_files(MODELS, [], False) == []
    assert layout.branch_model_jobs(MODELS, [], False) == []
    files = layout.branch_files(MODELS, [0.5], True)
    for path in ["data/sft/cross/a@0.5.jsonl", "data/sft/train/b__cross__a@0.5.jsonl",
                 "results/adapters/b__cross__a@0.5",
                 "results/hypothetical/b__cross__a@0.5/test.jsonl",
                 "reports/loss_curves/b__cross__a@0.5.csv", "data/items/heldin.jsonl",
                 "results/object/a__self/heldin.jsonl",
                 "results/hypothetical/b__cross__a/heldin.jsonl"]:
        assert path in files, path
    assert len(files) == len(set(files))
    assert not set(files) & set(layout.study_files(MODELS))
    jobs = layout.branch_model_jobs(MODELS, [0.5], True)
    assert ("finetune", "b__cross__a@0.5", "logs/benchmarks/finetune/b__cross__a@0.5.tsv") in jobs
    assert ("object_answers", "a__self heldin",
            "logs/benchmarks/object/a__self_heldin.tsv") in jobs
    assert len(jobs) == 2 * 2 + 4 + 6   # scaled: finetune + answers; held-in: 4 + 6 agents


def test_scaled_agents_get_no_calibration_samples():
    """Their held-out answers come from rule hypothetical_answers: the fused rule's wildcard
    constraint does not match them."""
    assert not re.fullmatch(layout.CALIBRATED_HYPO_AGENT, "b__cross__a@0.5")
    assert re.fullmatch(layout.CALIBRATED_HYPO_AGENT, "b__cross__a")
