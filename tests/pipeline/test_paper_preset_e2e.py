"""The `paper` preset, shrunk to tiny sizes, end to end on the embedded models: the release's
split and prompts verbatim, the paper's shift (a named source model that is not under study,
answering new prompts of held-out task kinds) and the paper's calibration (one prompt variant,
paired samples). It reads the sample of the paper's release in ../shared/paper-release (or the
folder $INWARD_PAPER_RELEASE names) and is skipped where that is absent (it is not part of the
project). Its metrics must equal an
independent recomputation (tests/support/reference_scorer.py).

Only sizes and the models change from the preset: the sample lacks some of the paper's tasks
(colors_long, countries_long, mmlu_non_cot), one model is under study, and the preset's shift
source is a hosted model, here replaced by an embedded one under another prompt layout, not
under study.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import yaml

from e2e_support import ROOT, new_study_repo, sh
from inward.config.preset import render_preset
from inward.records.jsonl import read_jsonl
from reference_scorer import compare, recompute

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

RELEASE = Path(os.environ.get("INWARD_PAPER_RELEASE", ROOT.parent / "shared" / "paper-release"))
SAMPLE_TRAIN = ["wikipedia_long", "arc_challenge_non_cot", "wealth_seeking"]
SAMPLE_TEST = ["animals_long", "english_words_long", "myopic_reward"]
SHIFT_TASKS = ["animals_long", "myopic_reward"]


def tiny_paper_params() -> dict:
    """The preset with tiny sizes, the sample's tasks and an embedded shift source."""
    params = yaml.safe_load(render_preset("paper", RELEASE))
    # one model under study keeps the run short (no cross agents: the drawn studies of
    # tests/scoring/test_reference_scorer.py check cross-prediction's variant MAD); with a
    # named source it still gets its behaviour shift, which a one-model study could not before
    del params["models"]["gemma3"]
    params["models"]["shift_source"] = {"backend": "local", "source": "embedded:gemma3-270m",
                                        "chat_format": "plain", "under_study": False}
    params["tasks"] |= {"train": SAMPLE_TRAIN, "test": SAMPLE_TEST, "n_train_items": 4,
                        "n_test_items": 3,
                        "properties": ["second_character", "first_word", "among_a_or_c",
                                       "matches_target"]}
    params["generation"] |= {"object_max_new_tokens": 10, "hypothetical_max_new_tokens": 4}
    params["sft"]["cap_per_group"] = 4
    small = {"batch_size": 2, "lora_rank": 4, "lora_alpha": 8, "max_steps": 2, "evaluations": 2}
    for kind in ("self", "shift"):
        params["finetune"][kind] |= small
    params["shift"] |= {"tasks": SHIFT_TASKS, "n_answers": 5}
    params["cross"]["scaling"] = []  # needs two models under study
    params["calibration"] |= {"n_samples": 3, "n_bins": 4}
    params["calibration"]["variant"]["n_items"] = 3
    params["metrics"]["n_boot"] = 50
    return params


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    if not RELEASE.is_dir():
        pytest.skip(f"{RELEASE} is absent: the paper's release sample lives on development "
                    "and CI machines only")
    repo = new_study_repo(tmp_path_factory.mktemp("paper") / "repo", tiny_paper_params())
    (repo.parent / "run.log").write_text(sh("snakemake --cores 2", repo))
    return repo


def release_rows() -> dict[tuple[str, str], list[dict]]:
    """(task, object-level user message) -> every release row holding that prompt."""
    rows: dict = {}
    for path in sorted(RELEASE.rglob("*.jsonl")):
        for row in read_jsonl(path):
            user = [m["content"] for m in row["object_level_prompt"] if m["role"] == "user"]
            rows.setdefault((row["original_dataset"], user[-1].strip()), []).append(
                {**row, "folder": path.parent.name})
    return rows


def test_the_release_split_and_its_prompts_verbatim(study):
    rows = release_rows()
    for split, tasks in (("train", SAMPLE_TRAIN), ("test", SAMPLE_TEST)):
        items = read_jsonl(study / f"data/items/{split}.jsonl")
        assert Counter(it["task"] for it in items) == {t: 3 if split == "test" else 4
                                                       for t in tasks}
        for it in items:
            found = rows[(it["task"], it["prompt"])]
            assert {r["folder"] for r in found} == {split}  # the release's own folder
            assert it["messages"] == found[0]["object_level_prompt"]
            for r in found:  # every property of the row: the release's hypothetical chat
                prop = {"ethical_stance": "matches_target"}.get(r["behavioral_property"],
                                                               r["behavioral_property"])
                assert it["hypothetical"][prop] == r["hypothetical_prompt"]
    assert not (study / "data/sft/replay").exists() or not any(
        read_jsonl(p) for p in (study / "data/sft/replay").glob("*.jsonl"))


def test_the_paper_shift_uses_a_named_source_on_new_prompts(study):
    shift_items = read_jsonl(study / "data/items/shift.jsonl")
    assert Counter(it["task"] for it in shift_items) == {"animals_long": 3, "myopic_reward": 2}
    used = {(it["task"], it["prompt"]) for split in ("train", "test")
            for it in read_jsonl(study / f"data/items/{split}.jsonl")}
    assert not used & {(it["task"], it["prompt"]) for it in shift_items}
    answers = read_jsonl(study / "results/object/shift_source/shift.jsonl")
    assert len(answers) == 5
    by_key = {(a["task"], a["item_id"]): a["response"].strip() for a in answers}
    for model in ("smollm2",):
        data = read_jsonl(study / f"data/sft/shift/{model}.jsonl")
        assert 1 <= len(data) <= 5
        learned = [ex["messages"][-1]["content"] for ex in data]
        assert set(learned) <= set(by_key.values())  # the source's answers, nothing else
        assert (study / f"results/adapters/{model}__shift/adapter_model.safetensors").is_file()
    # the source is not under study: no finetune, no comparison of its own
    assert not (study / "results/adapters/shift_source__self").exists()
    metrics = json.loads((study / "reports/metrics.json").read_text())
    assert set(metrics["targets"]) == {"smollm2"}
    assert "shift" in metrics["targets"]["smollm2"]


def test_the_calibration_variant_pairs_its_samples(study):
    items = read_jsonl(study / "data/items/calibration.jsonl")
    assert len(items) == 3 and {it["task"] for it in items} == {"next_animal"}
    for agent in ("smollm2", "smollm2__self"):
        obj = read_jsonl(study / f"results/calibration/{agent}/variant_object.jsonl")
        hyp = read_jsonl(study / f"results/calibration/{agent}/variant_hypothetical.jsonl")
        assert [len(r["samples"]) for r in obj] == [3, 3, 3]
        assert [len(r["samples"]) for r in hyp] == [3, 3, 3]
        assert {r["property"] for r in hyp} == {"second_character"}
    metrics = json.loads((study / "reports/metrics.json").read_text())
    block = metrics["targets"]["smollm2"]["calibration_mad_variant"]
    assert block["task"] == "next_animal" and block["property"] == "second_character"
    assert set(block) >= {"untrained", "self"}
    assert "calibration_mad" in metrics["targets"]["smollm2"]  # the pooled MAD beside it


def test_metrics_equal_an_independent_recomputation(study):
    metrics = json.loads((study / "reports/metrics.json").read_text())
    reference = recompute(study)
    assert "calibration_mad_variant" in reference["smollm2"]
    assert compare(reference, metrics) == []
