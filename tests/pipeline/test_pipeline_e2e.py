"""The whole DAG on the real embedded models, with a tiny config, in a fresh git + DVC repo.

One study is run once (module fixture) through ``dvc repro``; the tests then check what it wrote
and how Snakemake and DVC behave around it: nothing left to do, bad inputs refused before
anything is touched, targeted re-runs after a params edit, ``dvc status`` after a plain and
after a partial Snakemake run, a deleted result rebuilt, Snakemake after ``dvc checkout``, and
``dvc metrics diff`` across commits. Tests depend on each other's order (they edit the repo).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml

from e2e_support import ENV, edit_params, jobs_run, sh, tiny_branches, tracked_files
from inward.reporting.headline import headline_metrics
from inward.study.layout import study_files

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def mtimes(repo: Path, *dirs: str) -> dict[str, float]:
    return {str(p.relative_to(repo)): p.stat().st_mtime
            for d in dirs for p in (repo / d).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def repo(tiny_study) -> Path:
    return tiny_study


def test_every_expected_output_exists(repo):
    for rel in ["data/items/train.jsonl", "data/items/test.jsonl", "reports/metrics.json",
                "reports/report.md", "reports/tables/items.parquet",
                "reports/tables/by_task_property.csv", "reports/tables/calibration_bins.csv"]:
        assert (repo / rel).is_file(), rel
    curves = sorted(p.name for p in (repo / "reports/loss_curves").glob("*.csv"))
    scaled = tiny_branches(["smollm2", "gemma3"])[2]  # M2__cross__M1@share (cross.scaling)
    assert curves == sorted(f"{a}.csv" for a in ["smollm2__self", "gemma3__self",
                                                 "gemma3__cross__smollm2", "smollm2__cross__gemma3",
                                                 "smollm2__shift", "gemma3__shift", *scaled])
    assert (repo / "reports/loss_curves.png").stat().st_size > 1000
    for fig in ["accuracy", "by_task_property", "calibration", "shift"]:
        for ext in ("png", "html"):
            assert (repo / "reports/figures" / f"{fig}.{ext}").stat().st_size > 1000, fig
    for agent in ["smollm2__self", "gemma3__self", "gemma3__cross__smollm2",
                  "smollm2__cross__gemma3", "smollm2__shift", "gemma3__shift"]:
        adapter = repo / "results/adapters" / agent
        assert (adapter / "adapter_model.safetensors").is_file(), agent
        assert not (adapter / "README.md").exists(), "model cards make outs machine-specific"
    report = (repo / "reports/report.md").read_text()
    assert "figures/accuracy.png" in report and "Reading" in report
    assert "](transcripts.html)" in report


def _numbers(metrics: dict, prefix=""):
    """(key, value, the dict holding it) for every scalar of the metrics."""
    for k, v in metrics.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif not isinstance(v, list):
            yield f"{prefix}{k}", v, metrics


def test_metrics_have_every_key_and_are_numbers_in_range(repo):
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for m, m2 in [("smollm2", "gemma3"), ("gemma3", "smollm2")]:
        r = metrics["targets"][m]
        for acc in [r["untrained"], r["self"], r["cross"][m2], r["shift"]["new"],
                    r["shift"]["old"]]:
            for suffix in ("", "_compliant"):
                a, n = acc[f"accuracy{suffix}"], acc[f"n{suffix}"]
                assert n == 0 or 0 <= acc[f"ci_low{suffix}"] <= a <= acc[f"ci_high{suffix}"] <= 1
            assert acc["n_compliant"] <= acc["n"]
        for policy in ("keep_all", "compliant"):
            p = r["self_vs_cross"][m2][policy]["p_value"]
            assert p is None or 0 <= p <= 1
        for mad in [r["calibration_mad"]["self"], r["calibration_mad"]["untrained"],
                    r["calibration_mad"]["cross"][m2]]:
            assert mad["mad"] is None or 0 <= mad["ci_low"] <= mad["ci_high"] <= 100
        assert 0 <= r["groups"]["informative"] <= r["groups"]["n"]
    for agent in ["smollm2", "smollm2__self", "gemma3__shift"]:
        a = metrics["agents"][agent]
        for key in ("object_compliance", "hypothetical_compliance", "demonstration_leak"):
            assert 0 <= a[key] <= 1, (agent, key)
    for key, value, holder in _numbers(metrics):
        if value is None:  # undefined only where there was nothing to score
            assert (holder.get("n") == 0 or holder.get("n_compliant") == 0
                    or holder.get("n_pairs") == 0 or holder.get("behaviour_kept_n") == 0
                    or key.startswith("per_group")
                    # power: no spread from fewer than 2 items, no difference to detect
                    or holder.get("n_items", 2) < 2
                    or (key.endswith(("n_items_needed", "n_items_per_task"))
                        and holder.get("diff") == 0)), key
            continue
        assert isinstance(value, (int, float)) and not isinstance(value, bool), key
        assert math.isfinite(value), key


def test_metrics_equal_an_independent_recomputation(repo):
    """The bar of issue 10: the official definitions recomputed from the answer files."""
    from reference_scorer import compare, recompute

    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert compare(recompute(repo), metrics) == []


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


def test_transcripts_recompute_the_metrics_and_their_page_works_in_chromium(repo):
    """reports/transcripts.parquet: one row per comparison, predictor, held-out item and
    property, from which every role's accuracy (both policies) and the shift's new/old equal
    metrics.json's to 1e-9; reports/transcripts.html, opened in headless Chromium, filters
    its rows and shows an item's chats with every agent of its comparison side by side."""
    import polars as pl

    from inward.study.layout import parse_agent
    from transcript_support import Page, chromium, differences

    table = pl.read_parquet(repo / "reports/transcripts.parquet")
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert differences(table, metrics) == []
    assert pl.read_csv(repo / "reports/transcripts.csv", infer_schema=False).height == \
        table.height
    pairs = table.filter(pl.col("role") == "self", pl.col("target_model") == "smollm2").height
    # per target: untrained, self, cross, shift and one cross-scaling predictor per share
    scaled = [parse_agent(a) for a in tiny_branches(["smollm2", "gemma3"])[2]]
    roles = {"untrained", "self", "cross:gemma3", "shift",
             *(f"cross:{a.model}@{a.scale}" for a in scaled if a.target == "smollm2")}
    assert pairs > 0 and table.height == 2 * len(roles) * pairs
    driver = chromium()
    try:
        page = Page(driver, repo / "reports/transcripts.html")
        assert page.count() == f"{table.height} of {table.height} rows"
        page.choose("f-changed", "yes")
        changed = table.filter(pl.col("changed"))
        assert page.count() == f"{changed.height} of {table.height} rows"
        page.choose("f-changed", "")
        page.choose("f-target", "smollm2")
        page.choose("f-role", "cross:gemma3")
        page.choose("f-correct", "no")
        wrong = table.filter(pl.col("target_model") == "smollm2",
                             pl.col("role") == "cross:gemma3",
                             pl.col("scored") & ~pl.col("correct"))
        assert page.count() == f"{wrong.height} of {table.height} rows"
        assert {r[2] for r in page.rows()} <= {"gemma3__cross__smollm2"}
        page.choose("f-correct", "")
        first = page.rows()[0]
        page.open_item(0)
        item = table.filter(pl.col("target_model") == "smollm2", pl.col("item_id") == first[4],
                            pl.col("property") == first[5])
        detail = page.find("#detail").text
        for message in json.loads(item["object_messages"][0]):
            assert _words(message["content"]) in _words(detail)
        cards = page.cards(first[5])
        assert set(cards) == roles
        for row in item.iter_rows(named=True):
            assert _words(row["hypothetical_response"]) in _words(cards[row["role"]]), row
            assert _words(row["object_response"]) in _words(cards[row["role"]]), row
    finally:
        driver.quit()


def test_model_jobs_show_their_progress_on_the_terminal_and_in_their_logs(repo):
    """`dvc repro`'s own output (the terminal) has each model job's prompts and each LoRA
    finetune's steps, done/total with rate and time left, besides the jobs' logs."""
    shown = (repo.parent / "first_run.log").read_text()
    prompts = re.findall(r"\[inward\] (results/\S+\.jsonl): (\d+)/(\d+) prompts \(\d+%, "
                         r"[\d.]+ prompts/s, (?:\S+ left|done in \S+)\)", shown)
    finished = {out for out, done, total in prompts if done == total}
    assert "results/object/smollm2/test.jsonl" in finished, shown[-3000:]
    assert "results/hypothetical/gemma3__cross__smollm2/test.jsonl" in finished
    steps_shown = re.findall(r"\[inward\] results/adapters/(\S+) \(LoRA\): (\d+)/(\d+) steps "
                             r"\(\d+%, [\d.]+ steps/s, (?:\S+ left|done in \S+), loss [\d.]+\)",
                             shown)
    assert {a for a, done, total in steps_shown if done == total} == {
        "smollm2__self", "gemma3__self", "gemma3__cross__smollm2", "smollm2__cross__gemma3",
        "smollm2__shift", "gemma3__shift", *tiny_branches(["smollm2", "gemma3"])[2]}
    log = (repo / "logs/object/smollm2_test.log").read_text()
    assert re.search(r"results/object/smollm2/test\.jsonl: (\d+)/\1 prompts", log), log
    assert "(LoRA): 2/2 steps" in (repo / "logs/finetune/smollm2__self.log").read_text()


def test_the_optional_branches_are_scored(repo):
    """The tiny config turns both branches on: one cross-scaling entry per share (a nested,
    smaller set of examples than the full cross finetune's), held-in scores on new prompts of
    the training tasks, and the power of every self-vs-cross comparison."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    shares = params["cross"]["scaling"]
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for m, m2 in [("smollm2", "gemma3"), ("gemma3", "smollm2")]:
        r = metrics["targets"][m]
        entry = r["cross_scaling"][m2]
        assert sorted(entry["points"]) == sorted(f"{k:g}" for k in shares)
        for point in entry["points"].values():
            assert 0 < point["n_examples"] < entry["full"]["n_examples"]
            assert point["n"] == r["self"]["n"]  # the same held-out rows as the self role
        assert entry["full"]["accuracy"] == r["cross"][m2]["accuracy"]
        assert entry["self"]["accuracy"] == r["self"]["accuracy"]
        held = r["held_in"]
        assert held["n_items"] == 2 * len(params["tasks"]["train"])
        assert held["self"]["n"] > 0 and 0 <= held["self"]["accuracy"] <= 1
        for block in (r["power"], held["power"]):
            keep = block["self_vs_cross"][m2]["keep_all"]
            assert keep["n_items"] > 0 and keep["alpha"] == 0.05 and keep["power"] == 0.8
    held_prompts = {json.loads(line)["prompt"]
                    for line in (repo / "data/items/heldin.jsonl").read_text().splitlines()}
    train = {json.loads(line)["prompt"]
             for line in (repo / "data/items/train.jsonl").read_text().splitlines()}
    assert len(held_prompts) == 4 and not held_prompts & train
    table = (repo / "reports/tables/cross_scaling.csv").read_text()
    assert "gemma3__cross__smollm2@0.5" in table and "smollm2__cross__gemma3," in table
    assert (repo / "reports/figures/cross_scaling.png").stat().st_size > 1000
    report = (repo / "reports/report.md").read_text()
    assert "## Cross-prediction against training data" in report and "## Held-in" in report


def test_nothing_left_to_do_after_the_run(repo):
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)
    assert "up to date" in sh("dvc status", repo)


def test_the_snakemake_report_shows_results_and_benchmarks(repo):
    """`snakemake --report`: one self-contained page with every report()-annotated output,
    its caption (workflow/report/) and the model jobs' benchmark table."""
    from inward.study import layout

    out = sh("snakemake --report reports/study.html", repo)
    assert "Report created" in out, out[-2000:]
    page = (repo / "reports/study.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and len(page) > 100_000
    for category in ("Metrics", "Tables", "Figures", "Finetuning", "Benchmarks", "Transcripts"):
        assert category in page, category
    for caption in (repo / "workflow/report").glob("*.rst"):
        first = caption.read_text().split()[:3]
        assert " ".join(first) in " ".join(page.split()), caption.name
    for name in ("accuracy.png", "calibration_bins.csv", "loss_curves.png", "summary.csv",
                 "transcripts.html"):
        assert name in page, name
    rows = (repo / "logs/benchmarks/summary.csv").read_text().splitlines()
    assert rows[0] == "rule,job,seconds,max_rss_mb,cpu_seconds,file"
    models = ["smollm2", "gemma3"]  # one row per model job, the optional branches' too
    assert len(rows) == 1 + len(layout.model_jobs(models)) + len(tiny_branches(models)[1])
    (repo / "reports/study.html").unlink()  # not a study output: leave the repo as it was


def test_editing_a_task_file_reruns_exactly_what_depends_on_it(repo):
    """The held-out `riddles` task is a user file (tasks.files): an input of the test split's
    items, so `snakemake -n` after an edit lists that split's items and every job built on
    them, and no training-side job; with the old text back, nothing is left to do (Snakemake
    compares the file's checksum with the one it recorded)."""
    from inward.study import layout

    models = ["smollm2", "gemma3"]
    path = repo / "data/tasks/riddles.jsonl"
    text = path.read_text()
    path.write_text(text.replace("single word", "single short word", 1))
    try:
        planned = set(jobs_run(sh("snakemake -n --cores 2", repo)))
        assert "data/tasks" in sh("dvc status", repo)
    finally:
        path.write_text(text)
    objects, hypos = layout.calibration_agents(models)
    # the held-out answers of a calibrated agent come with its samples from one fused job
    expected = ({("items", "split=test")}
                | {("object_answers", f"agent={a}, split=test")
                   for a, s in layout.object_needs(models) if s == "test" and a not in objects}
                | {("object_answers_and_samples", f"agent={a}") for a in objects}
                | {("hypothetical_answers", f"agent={a}")
                   for a in layout.hypothetical_agents(models) if a not in hypos}
                | {("hypothetical_answers_and_samples", f"agent={a}") for a in hypos}
                | {("hypothetical_answers", f"agent={a}") for a in tiny_branches(models)[2]}
                | {(r, "") for r in ("evaluate", "figures", "report", "benchmarks",
                                     "transcripts")})
    assert planned == expected, sorted(planned ^ expected)
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)
    assert "up to date" in sh("dvc status", repo)


def test_dvc_tracks_exactly_the_study_files_all_readable_by_others(repo):
    """Every file under the DVC outs belongs to a target of `rule all` (so Snakemake rebuilds
    it when missing), every target exists, and under umask 022 all are world-readable."""
    targets = study_files(["smollm2", "gemma3"]) + tiny_branches(["smollm2", "gemma3"])[0]
    files = tracked_files(repo)
    stray = [f for f in files if not any(f == t or f.startswith(t + "/") for t in targets)]
    assert not stray, stray
    for t in targets:
        assert (repo / t).is_file() or any((repo / t).iterdir()), t
    private = [f for f in files if (repo / f).stat().st_mode & 0o044 != 0o044]
    assert not private, private


def _bad_task_file(text: str):
    def edit(params, repo):
        (repo / "mine.jsonl").write_text(text)
        params["tasks"].setdefault("files", {})["mine"] = "mine.jsonl"
        params["tasks"]["test"].append("mine")
    return edit


def _set(dotted: str, value):
    def edit(params, repo):
        *path, last = dotted.split(".")
        node = params
        for k in path:
            node = node[k]
        node[last] = value
    return edit


def _hosted(params, repo):
    params["models"]["gpt"] = {"backend": "openai", "model": "gpt-4o"}


BAD_INPUTS = {
    "unknown model key": (_set("models.smollm2.sorce", "embedded:smollm2-135m"),
                          r"line \d+: models\.smollm2\.sorce: unknown key; allowed keys: .*source"),
    "misspelt key variable": (_set("models.gemma3.api_key_evn", "KEY"),
                              r"models\.gemma3\.api_key_evn: unknown key"),
    "missing local model": (_set("models.smollm2.source", "/nowhere/model"),
                            (r"models\.smollm2\.source: local model directory '/nowhere/model' "
                            r"does not exist; allowed: embedded:")),
    "hosted model, no key": (_hosted, (r"models\.gpt\.api_key_env: the environment variable "
                                      r"'OPENAI_API_KEY' is not set")),
    "task file, bad JSON": (_bad_task_file('{"id": 1, "prompt": "a"}\n{"id": 2,\n'),
                            r"tasks\.files\.mine: mine\.jsonl:2: invalid JSON"),
    "task file, no prompt": (_bad_task_file('{"id": 1, "text": "a"}\n'),
                             r"mine\.jsonl:1: missing key\(s\) prompt; required keys: id, prompt"),
    "task file, duplicate id": (_bad_task_file('{"id": 1, "prompt": "a"}\n'
                                               '{"id": 1, "prompt": "b"}\n'),
                                r"mine\.jsonl:2: duplicate id '1'"),
    "task file, 10 MB prompt": (_bad_task_file('{"id": 1, "prompt": "' + "x" * 10_000_000 + '"}\n'),
                                r"mine\.jsonl:1: 'prompt' has 10000000 characters; at most 20000"),
    "task file, empty": (_bad_task_file(""), r"tasks\.files\.mine: mine\.jsonl: no items"),
    "more items than a task has": (_set("tasks.n_train_items", 100000),
                                   (r"tasks\.n_train_items: 100000 items asked of task "
                                   r"'wealth_seeking', which can generate at most 336")),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_input_is_refused_before_anything_is_touched(repo, case):
    """`inward check-params`, `snakemake -n` and a real `snakemake` run all refuse it with the
    key (and file line), and no tracked output changes: same bytes, same modification times."""
    import yaml

    edit, expected = BAD_INPUTS[case]
    text = (repo / "params.yaml").read_text()
    before = tracked_files(repo)
    times = mtimes(repo, "data", "results", "reports")
    params = yaml.safe_load(text)
    edit(params, repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in ENV.items() if k != "OPENAI_API_KEY"}
    try:
        for cmd in ("python -m inward.cli check-params", "snakemake -n --cores 2",
                    "snakemake --cores 2"):
            out = sh(cmd, repo, check=False, env=env)
            assert re.search(expected, out), f"{cmd}:\n{out[-2000:]}"
            assert not jobs_run(out), f"{cmd} planned jobs:\n{out[-2000:]}"
    finally:
        (repo / "params.yaml").write_text(text)
        (repo / "mine.jsonl").unlink(missing_ok=True)
    assert tracked_files(repo) == before
    assert mtimes(repo, "data", "results", "reports") == times


def test_a_yaml_error_under_snakemake_names_its_line_and_column(repo):
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(text + "extra: [unclosed\n")
    try:
        out = sh("snakemake -n --cores 1", repo, check=False)
    finally:
        (repo / "params.yaml").write_text(text)
    where = re.search(r"params\.yaml:(\d+):(\d+): not valid YAML \(line \1, column \2\)", out)
    assert where and int(where.group(1)) > len(text.splitlines()), out


def test_unlock_needs_no_cores(repo):
    assert "Unlocked working directory" in sh("snakemake --unlock", repo)


def without_nulls(metrics):
    """The metrics as `dvc exp show` lists them: keys whose value is null are left out."""
    if isinstance(metrics, dict):
        return {k: without_nulls(v) for k, v in metrics.items() if v is not None}
    return metrics


def exp_metrics(repo: Path, name: str) -> dict:
    """The metrics `dvc exp show` lists for the experiment called ``name``: the headline
    numbers (null values are left out: compare with ``without_nulls``)."""
    shown = json.loads(sh("dvc exp show --json --no-pager", repo))

    def find(node):
        if isinstance(node, dict):
            if node.get("name") == name and isinstance(node.get("data"), dict):
                metrics = node["data"]["metrics"]
                assert set(metrics) == {"reports/headline.json"}, set(metrics)
                return metrics["reports/headline.json"]["data"]
            node = list(node.values())
        if isinstance(node, list):
            for child in node:
                found = find(child)
                if found is not None:
                    return found
        return None

    found = find(shown)
    assert found is not None, f"experiment {name} not in dvc exp show"
    return found


SHOWN = ("evaluate", "figures", "report", "loss_curves", "benchmarks",  # read every agent
         "transcripts")


def test_dvc_exp_run_reruns_what_each_change_needs(repo):
    """`dvc exp run -S`: a learning-rate change retrains exactly what depends on it and gives
    the right metrics; then a plots-only change redraws only the plots. `dvc exp show` lists
    both experiments' metrics."""
    from reference_scorer import compare, recompute

    before = json.loads((repo / "reports/metrics.json").read_text())
    out = sh("dvc exp run -n shift-lr -S finetune.shift.learning_rate=0.002", repo)
    jobs = jobs_run(out)
    model_jobs = [(r, w) for r, w in jobs if r not in SHOWN]
    assert model_jobs and all("__shift" in w for _, w in model_jobs), jobs
    assert {r for r, _ in model_jobs} == {"finetune_shift", "object_answers",
                                          "hypothetical_answers"}
    assert set(SHOWN) <= {r for r, _ in jobs}
    after = json.loads((repo / "reports/metrics.json").read_text())
    assert compare(recompute(repo), after) == []
    for m in ("smollm2", "gemma3"):  # nothing but the shift branch changed
        for key in ("untrained", "self", "cross", "self_vs_cross", "calibration_mad"):
            assert after["targets"][m][key] == before["targets"][m][key], (m, key)
    assert {a: v for a, v in after["agents"].items() if "__shift" not in a} == \
        {a: v for a, v in before["agents"].items() if "__shift" not in a}
    shown = exp_metrics(repo, "shift-lr")
    assert shown == without_nulls(headline_metrics(after))
    columns = [f"{m}.{k}" for m, keys in shown.items() for k in keys]
    assert 8 <= len(columns) <= 25, columns  # two experiments side by side fit a terminal

    times = mtimes(repo, "results", "data")
    out = sh("dvc exp run -n wider -S plots.width=180", repo)
    assert {rule for rule, _ in jobs_run(out)} == {"figures", "report"}, out
    assert mtimes(repo, "results", "data") == times
    assert json.loads((repo / "reports/metrics.json").read_text()) == after
    assert exp_metrics(repo, "wider") == without_nulls(headline_metrics(after))


def test_plain_snakemake_leaves_dvc_status_clean(repo):
    edit_params(repo, "plots.height", 130)
    sh("snakemake --cores 2", repo)
    assert "up to date" in sh("dvc status", repo)


def test_a_targeted_run_is_not_recorded_as_the_study(repo):
    """Defect: the onsuccess hook recorded any successful run, targeted ones too."""
    lock = (repo / "dvc.lock").read_text()
    items = (repo / "data/items/test.jsonl").read_bytes()
    edit_params(repo, "plots.width", 500)
    out = sh("snakemake --cores 2 -f data/items/test.jsonl", repo)
    assert jobs_run(out) == [("items", "split=test")], out
    assert (repo / "dvc.lock").read_text() == lock
    assert re.search(r"changed deps:\s+params\.yaml:\s+modified:\s+plots", sh("dvc status", repo))
    assert {"figures", "report"} <= {r for r, _ in jobs_run(sh("snakemake -n --cores 2", repo))}
    # the items came back byte for byte, so what depends on them is current: mark it so, short
    # of the figures (their width changed); the study is still partial, and still not recorded
    assert (repo / "data/items/test.jsonl").read_bytes() == items
    sh("snakemake --cores 1 --touch --omit-from figures", repo)
    assert (repo / "dvc.lock").read_text() == lock
    out = sh("snakemake --cores 2", repo)
    assert {r for r, _ in jobs_run(out)} == {"figures", "report"}, out
    assert "up to date" in sh("dvc status", repo)
    assert "width: 500" in (repo / "dvc.lock").read_text()


def test_a_deleted_result_is_rebuilt_by_plain_snakemake(repo):
    """Defect: only metrics, figures and report were targets, so a deleted intermediate file
    stayed missing (and DVC then recorded a results folder one file short)."""
    path = repo / "results/object/smollm2/test.jsonl"
    before = path.read_bytes()
    path.unlink()
    assert "results" in sh("dvc status", repo)
    dry = sh("snakemake -n --cores 2", repo)
    # the held-out answers of a calibrated agent come with its samples (one job)
    assert ("object_answers_and_samples", "agent=smollm2") in jobs_run(dry), dry
    sh("snakemake --cores 2", repo)
    assert path.read_bytes() == before
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)
    assert "up to date" in sh("dvc status", repo)


def test_snakemake_does_not_redo_work_after_dvc_checkout(repo):
    shutil.rmtree(repo / "results" / "hypothetical")
    (repo / "reports" / "report.md").unlink()
    sh("dvc checkout", repo)
    assert (repo / "reports" / "report.md").is_file()
    sh("python -m inward.cli restore --no-checkout", repo)
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)


def test_push_to_a_local_remote_and_pull_back(repo):
    remote = repo.parent / "remote"
    sh(f"dvc remote add -d -f local {remote} && dvc push -q", repo)
    shutil.rmtree(repo / "results")
    sh("dvc pull -q", repo)
    assert (repo / "results/adapters/smollm2__self/adapter_model.safetensors").is_file()
    sh("python -m inward.cli restore --no-checkout", repo)
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)
    assert "up to date" in sh("dvc status", repo)


def test_metrics_diff_after_changing_held_out_items(repo):
    sh("git add -A && git commit -qm 'study run'", repo)
    edit_params(repo, "tasks.n_test_items", 2)  # fewer: a cheaper rerun
    out = sh("dvc repro", repo)
    jobs = jobs_run(out)
    # the held-out split alone is regenerated: no finetune, no training-split answer
    assert not {r for r, _ in jobs} & {"finetune", "finetune_shift", "self_data", "cross_data",
                                       "shift_data"}, jobs
    assert all("split=test" in w for r, w in jobs if r in ("items", "object_answers")), jobs
    sh("git add -A && git commit -qm 'fewer held-out items'", repo)
    diff = sh("dvc metrics diff HEAD~1", repo)  # the headline numbers
    assert "reports/headline.json" in diff and "reports/metrics.json" not in diff, diff
    assert re.search(r"smollm2\.self\s", diff), diff
    full = sh("dvc metrics diff HEAD~1 --targets reports/metrics.json", repo)  # every number
    assert re.search(r"targets\.\w+\.self\.n", full), full
    params = sh("dvc params diff HEAD~1", repo)
    assert re.search(r"tasks\.n_test_items\s+3\s+2", params), params


def test_a_queued_experiment_runs_in_dvcs_temporary_workspace(repo):
    """`dvc exp run --queue` + `dvc queue start`: the run happens in a copy of the repo without
    Snakemake's metadata and with new modification times; `inward stage` repairs both, so a
    plots-only change redraws only the plots there too, and `dvc exp show` lists its metrics."""
    import time

    metrics = json.loads((repo / "reports/metrics.json").read_text())
    params = (repo / "params.yaml").read_text()
    sh("dvc exp run --queue -n queued-plots -C .snakemake/metadata -C logs/benchmarks "
       "-S plots.height=150", repo)
    sh("dvc queue start -j 1", repo)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = sh("dvc queue status", repo)
        if "queued-plots" in status and not re.search(r"Queued|Running", status):
            break
        time.sleep(5)
    else:
        sh("dvc queue kill queued-plots", repo, check=False)
        raise AssertionError(f"the queued experiment did not finish in 900 s:\n{status}")
    assert re.search(r"queued-plots\s.*Success", status), status
    logs = sh("dvc queue logs queued-plots", repo)
    assert "outputs dated from Snakemake's metadata" in logs, logs[-3000:]
    assert {rule for rule, _ in jobs_run(logs)} == {"figures", "report"}, logs[-3000:]
    assert exp_metrics(repo, "queued-plots") == without_nulls(headline_metrics(metrics))
    assert (repo / "params.yaml").read_text() == params  # the workspace was not touched
