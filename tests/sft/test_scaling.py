"""Shares of the cross-prediction examples (cross.scaling): sized as documented and nested."""

import pytest

from inward.pipeline.steps import cross_subset
from inward.records.jsonl import read_jsonl, write_jsonl
from inward.sft.scaling import nested_subset, subset_size


@pytest.mark.parametrize(("n", "share", "size"), [
    (10, 0.5, 5), (10, 0.25, 3),   # 2.5 rounds up
    (9, 0.5, 5), (9, 0.1, 1),      # 4.5 up; 0.9 -> 1
    (40, 0.01, 1),                 # 0.4 rounds to 0: at least one
    (7, 1.0, 7), (0, 0.5, 0)])
def test_a_share_keeps_round_half_up_of_the_examples_at_least_one(n, share, size):
    assert subset_size(n, share) == size


def test_a_share_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"share 1.5 is out of range; allowed: 0 < share <= 1"):
        subset_size(10, 1.5)


def examples(n):
    return [{"messages": [{"role": "user", "content": f"question {i}"},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(n)]


def test_shares_are_nested_seeded_and_without_repeats():
    rows = examples(40)
    subsets = {k: nested_subset(rows, k, seed=3) for k in (0.1, 0.25, 0.5, 0.75)}
    assert [len(s) for s in subsets.values()] == [4, 10, 20, 30]
    for small, big in ((0.1, 0.25), (0.25, 0.5), (0.5, 0.75)):
        assert subsets[big][:len(subsets[small])] == subsets[small]   # a prefix of one order
    for s in subsets.values():
        assert len({e["messages"][0]["content"] for e in s}) == len(s)
    assert nested_subset(rows, 0.5, seed=3) == subsets[0.5]           # deterministic
    assert nested_subset(rows, 0.5, seed=4) != subsets[0.5]           # the seed matters
    assert subsets[0.25] != rows[:10]                                  # not the file's head


def test_the_step_writes_a_share_of_the_file(tmp_path):
    write_jsonl(examples(12), tmp_path / "cross.jsonl")
    for share in (0.5, 0.25):
        cross_subset(examples=str(tmp_path / "cross.jsonl"),
                     data=str(tmp_path / f"cross@{share}.jsonl"), share=share, seed=0)
    half = read_jsonl(tmp_path / "cross@0.5.jsonl")
    quarter = read_jsonl(tmp_path / "cross@0.25.jsonl")
    assert len(half) == 6 and len(quarter) == 3 and half[:3] == quarter
    assert all(e in examples(12) for e in half)
