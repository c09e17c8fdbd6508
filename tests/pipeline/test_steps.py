"""Step functions that need no model, and run_step's dispatch as Snakemake calls it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inward.pipeline import steps
from inward.records.jsonl import read_jsonl, write_jsonl
from inward.study import layout
from inward.tasks.catalog import Item
from inward.tasks.prompts import hypothetical_chat, object_chat

C = [Item("colours", f"colours-0000{i}", f"Continue the colours {i}.", None, "train")
     for i in range(3)]
REFUSAL = "I'm sorry, I can't help with that."
ANSWERS = [{"task": "colours", "item_id": C[0].item_id, "response": "  Red green  "},
           {"task": "colours", "item_id": C[1].item_id, "response": "blue"},
           {"task": "colours", "item_id": C[2].item_id, "response": REFUSAL}]


class Named(dict):
    """A stand-in for snakemake's Namedlist: named entries via items(), positions via [i]."""

    def __getitem__(self, key):
        return list(self.values())[key] if isinstance(key, int) else super().__getitem__(key)


class Smk:
    def __init__(self, rule, input=None, output=None, params=None, log=None, threads=1):
        self.rule, self.threads = rule, threads
        self.input, self.output, self.params = Named(input or {}), Named(output or {}), \
            Named(params or {})
        self.log = Named({"log": log}) if log else Named()


@pytest.fixture(autouse=True)
def _keep_omp_num_threads():
    """run_step sets OMP_NUM_THREADS for the step's process (a Snakemake job); in-process calls
    here must not leave it set for the rest of the test session."""
    before = os.environ.get("OMP_NUM_THREADS")
    yield
    if before is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = before


@pytest.fixture
def files(tmp_path):
    items, answers = tmp_path / "items.jsonl", tmp_path / "answers.jsonl"
    write_jsonl([it.to_dict() for it in C], items)
    write_jsonl(ANSWERS, answers)
    return items, answers


# --- build_items ----------------------------------------------------------------------------
def build(path, split="test", seed=0, **kw):
    steps.build_items(item_file=str(path), split=split, task_names=kw.pop("tasks", [
        "colours", "capitals_mc"]), n_items=3, seed=seed, **kw)
    return read_jsonl(path)


def test_build_items_deterministic_per_seed(tmp_path):
    a, b = build(tmp_path / "a.jsonl"), build(tmp_path / "b.jsonl")
    other = build(tmp_path / "c.jsonl", seed=1)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert [(r["task"], r["split"]) for r in a] == [("colours", "test")] * 3 + [
        ("capitals_mc", "test")] * 3
    assert len({r["item_id"] for r in a}) == 6
    assert [r["prompt"] for r in a] != [r["prompt"] for r in other]
    assert a == b


def test_build_items_train_split_and_user_files(tmp_path):
    train = build(tmp_path / "train.jsonl", split="train", tasks=["animals"])
    assert [(r["task"], r["split"]) for r in train] == [("animals", "train")] * 3
    user = tmp_path / "mine.jsonl"
    write_jsonl([{"id": "q1", "prompt": "Say hi."}, {"id": "q2", "prompt": "Pick A or B.",
                                                     "target": "B"}], user)
    got = build(tmp_path / "test.jsonl", tasks=["colours", "mine"], files={"mine": str(user)})
    assert [r["task"] for r in got] == ["colours"] * 3 + ["mine"] * 2  # kept whole, not capped
    assert got[3:] == [Item("mine", "q1", "Say hi.", None, "test").to_dict(),
                       Item("mine", "q2", "Pick A or B.", "B", "test").to_dict()]


# --- finetuning data ------------------------------------------------------------------------
def test_prediction_data_labels_from_answers(tmp_path, files):
    items, answers = files
    data = tmp_path / "sft" / "self.jsonl"
    steps.prediction_data(item_file=str(items), answers=str(answers), data=str(data),
                          props=["first_word", "second_word"], cap=10, seed=0)
    got = {(r["messages"][0]["content"], r["messages"][1]["content"]) for r in read_jsonl(data)}
    # item 1 has no second word and item 2 refused: no label for them
    assert got == {(hypothetical_chat(C[0], "first_word")[0]["content"], "red"),
                   (hypothetical_chat(C[0], "second_word")[0]["content"], "green"),
                   (hypothetical_chat(C[1], "first_word")[0]["content"], "blue")}
    steps.prediction_data(item_file=str(items), answers=str(answers), data=str(data),
                          props=["first_word", "second_word"], cap=1, seed=0)
    assert len(read_jsonl(data)) == 2  # one per (task, property)


@pytest.mark.parametrize("rule_set, labels", [
    # paper: "r e d" -> r and a space (the value "", never a label); "(l)ime" -> "lime": l, i;
    # "red": r, e
    ("paper", ["e", "i", "l", "r", "r"]),
    # lenient: the space is undefined; "(l)ime" -> "l)ime": l, then ")" is undefined
    ("lenient", ["e", "l", "r", "r"]),
])
def test_prediction_data_follows_the_rule_set(tmp_path, rule_set, labels):
    items, answers, data = tmp_path / "i.jsonl", tmp_path / "a.jsonl", tmp_path / "d.jsonl"
    write_jsonl([it.to_dict() for it in C], items)
    write_jsonl([{"task": "colours", "item_id": C[0].item_id, "response": "R e d"},
                 {"task": "colours", "item_id": C[1].item_id, "response": "(l)ime"},
                 {"task": "colours", "item_id": C[2].item_id, "response": "red"}], answers)
    steps.prediction_data(item_file=str(items), answers=str(answers), data=str(data),
                          props=["first_character", "second_character"], cap=10, seed=0,
                          rule_set=rule_set)
    assert sorted(r["messages"][1]["content"] for r in read_jsonl(data)) == labels


@pytest.mark.parametrize("demonstration", [False, True])
def test_object_data_examples(tmp_path, files, demonstration):
    items, answers = files
    data = tmp_path / "sft" / "shift.jsonl"
    steps.object_data(item_file=str(items), answers=str(answers), data=str(data), cap=10,
                     seed=0, demonstration=demonstration)
    got = sorted(read_jsonl(data), key=lambda r: r["messages"][-1]["content"].lower())
    # the refusal is left out; the raw answer is kept with only its whitespace stripped
    def asked(item):  # the worked exchange's answer is context: weight 0
        return [{**m, "weight": 0} if m["role"] == "assistant" else m
                for m in object_chat(item, demonstration)]
    assert [r["messages"] for r in got] == [
        [*asked(C[1]), {"role": "assistant", "content": "blue"}],
        [*asked(C[0]), {"role": "assistant", "content": "Red green"}]]
    assert len(got[0]["messages"]) == (4 if demonstration else 2)


def test_object_data_with_no_replay_writes_an_empty_file(tmp_path, files):
    items, answers = files
    data = tmp_path / "replay.jsonl"
    steps.object_data(item_file=str(items), answers=str(answers), data=str(data), cap=0,
                      seed=0, demonstration=True)
    assert data.read_text() == ""


def test_training_data_mixes_sources_and_holds_out_some_of_each(tmp_path):
    def chats(tag, n):
        return [{"messages": [{"role": "user", "content": f"{tag} {i}"},
                              {"role": "assistant", "content": tag}]} for i in range(n)]
    pred, replay = tmp_path / "pred.jsonl", tmp_path / "replay.jsonl"
    write_jsonl(chats("predict", 20), pred)
    write_jsonl(chats("replay", 5), replay)
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    steps.training_data(sources=[str(pred), str(replay)], train=str(train), val=str(val),
                        validation_fraction=0.2, seed=0)
    tr, va = read_jsonl(train), read_jsonl(val)
    tags = [[r["messages"][-1]["content"] for r in rows] for rows in (tr, va)]
    assert sorted(tags[1]) == ["predict"] * 4 + ["replay"]
    assert sorted(tags[0]) == ["predict"] * 16 + ["replay"] * 4
    users = [r["messages"][0]["content"] for r in tr + va]
    assert len(set(users)) == 25  # every example once
    assert tags[0][:6] != sorted(tags[0])[:6]  # mixed, not one source after the other
    steps.training_data(sources=[str(pred), str(replay)], train=str(tmp_path / "t2.jsonl"),
                        val=str(tmp_path / "v2.jsonl"), validation_fraction=0.2, seed=0)
    assert (tmp_path / "t2.jsonl").read_bytes() == train.read_bytes()


# --- run_step -------------------------------------------------------------------------------
def test_run_step_items(tmp_path):
    out, log = tmp_path / "data" / "items" / "test.jsonl", tmp_path / "logs" / "items_test.log"
    steps.run_step(steps.build_items, Smk("items", output={"item_file": str(out)},
                       params={"split": "test", "task_names": ["colours"], "n_items": 4,
                               "files": {}, "seed": 0}, log=str(log)))
    assert [r["split"] for r in read_jsonl(out)] == ["test"] * 4
    assert f"[inward] 4 test items -> {out}" in log.read_text()


def test_run_step_shift_data_without_log(tmp_path, files, capfd):
    items, answers = files
    data = tmp_path / "shift.jsonl"
    steps.run_step(steps.object_data, Smk("shift_data", input={"item_file": str(items),
        "answers": str(answers)},
                       output={"data": str(data)},
                       params={"cap": 10, "seed": 0, "demonstration": False}))
    assert len(read_jsonl(data)) == 2
    assert "2 object-level examples" in capfd.readouterr().err  # no log: stderr as is


def test_run_step_kwargs_and_errors(tmp_path, monkeypatch):
    seen = {}

    def step(**kwargs):
        seen.update(kwargs)
        print("step output")
        raise RuntimeError("boom")

    log = tmp_path / "logs" / "deep" / "probe.log"
    smk = Smk("probe", input={"item_file": "i.jsonl", "adapter": []},
              output={"answers": "a.jsonl"}, params={"seed": 3, "props": ["first_word"]},
              log=str(log), threads=1)
    with pytest.raises(RuntimeError, match="boom"):
        steps.run_step(step, smk)
    # inputs, outputs and params by name; an empty optional input ([]) becomes None
    assert seen == {"item_file": "i.jsonl", "adapter": None, "answers": "a.jsonl", "seed": 3,
                    "props": ["first_word"], "threads": 1}
    text = log.read_text()
    assert "step output" in text and "RuntimeError: boom" in text  # traceback in the log


def test_run_step_without_a_local_model_never_imports_torch(tmp_path):
    """Data, evaluation and hosted-model steps skip torch's multi-second import; the thread
    limit still reaches libraries through OMP_NUM_THREADS."""
    code = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_steps import Smk
from inward.pipeline import steps
steps.run_step(steps.build_items, Smk("items",
    output={{"item_file": {str(tmp_path / "items.jsonl")!r}}},
                   params={{"split": "test", "task_names": ["colours"], "n_items": 2,
                           "files": {{}}, "seed": 0}}, threads=3))
print("torch" in sys.modules, os.environ["OMP_NUM_THREADS"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "3"]


def test_every_rule_names_the_step_it_runs():
    """A rule's ``script:`` is ``workflow/scripts/<function>.py``, and that script runs the
    function of the same name in ``inward.pipeline.steps``: reading a rule tells the code."""
    root = Path(__file__).resolve().parents[2]
    scripted = 0
    for smk in sorted((root / "workflow" / "rules").glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            script = re.search(r"script:\s*\n\s*\"\.\./scripts/(\w+)\.py\"", body)
            assert script, f"{smk.name}: rule {rule} names no step script"
            name = script.group(1)
            code = (root / "workflow" / "scripts" / f"{name}.py").read_text()
            assert f"run_step({name}, snakemake)" in code, (rule, name)
            assert callable(getattr(steps, name)), (rule, name)
            scripted += 1
    assert scripted == 23


def test_run_step_evaluate_then_report(tmp_path, monkeypatch):
    from hand_study import write_study

    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    steps.run_step(steps.evaluate, Smk(
        "evaluate",
        input={"test_items": layout.items_path("test"),
               "answers": [layout.hypo_path("m1"), layout.hypo_path("m2")]},  # swallowed
        output={"metrics": layout.METRICS, "tables": layout.TABLES},
        params={"models": ["m1", "m2"], "props": ["first_word"],
                "calib": {"n_samples": 2, "temperature": 1.0, "n_bins": 2, "top_k": 3},
                "n_boot": 50, "seed": 0},
        log="logs/evaluate.log"))
    metrics = json.loads((tmp_path / layout.METRICS).read_text())
    assert metrics["targets"]["m1"]["self"]["accuracy"] == pytest.approx(2 / 3)
    (tmp_path / "params.yaml").write_text(json.dumps({  # JSON is YAML
        "base": {"seed": 0}, "models": {"m1": {"source": "s1"}, "m2": {"source": "s2"}},
        "tasks": {"train": ["animals"], "test": ["colours"], "n_test_items": 3}}))
    (tmp_path / layout.FIGURES).mkdir(parents=True)
    steps.run_step(steps.report, Smk("report", input={"metrics": layout.METRICS,
        "tables": layout.TABLES,
                                        "figures": layout.FIGURES,
                                        "params_file": "params.yaml"},
                       output={"report": layout.REPORT}, log="logs/report.log"))
    md = (tmp_path / layout.REPORT).read_text()
    assert "| m1 | 50.0% [" in md and "66.7% [" in md
    assert "n/a / n/a" in md  # m2's calibration MADs are undefined


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_outputs_honour_the_umask(tmp_path, umask_022):
    """Outputs are readable by group and others under umask 022, although the writers use
    mkstemp (0600); under umask 077 they stay private."""
    import stat

    out = tmp_path / "data" / "items" / "test.jsonl"
    steps.run_step(steps.build_items, Smk("items", output={"item_file": str(out)},
                       params={"split": "test", "task_names": ["colours"], "n_items": 2,
                               "files": {}, "seed": 0}))
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    # a folder output whose files a library wrote privately (safetensors does)
    adapter = tmp_path / "adapters" / "m__self"
    (adapter / "sub").mkdir(parents=True)
    weights = adapter / "sub" / "adapter_model.safetensors"
    weights.write_bytes(b"x")
    weights.chmod(0o600)
    (adapter / "sub").chmod(0o700)
    steps.run_step(lambda **kw: None, Smk("probe", output={"adapter_out": str(adapter)}))
    assert stat.S_IMODE(weights.stat().st_mode) == 0o644
    assert stat.S_IMODE((adapter / "sub").stat().st_mode) == 0o755
    os.umask(0o077)
    write_jsonl([{"a": 1}], out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_run_step_honours_the_umask_on_a_list_of_outputs(tmp_path):
    """An output named by a list of files (the loss-curve CSVs) is handled file by file."""
    adapters = []
    for name in ("a__self", "b__self"):
        d = tmp_path / name
        d.mkdir()
        (d / "loss_curve.csv").write_text("step,train_loss,val_loss\n0,,2.0\n2,1.5,1.2\n")
        adapters.append(str(d))
    curves = [str(tmp_path / "curves" / f"{n}.csv") for n in ("a__self", "b__self")]
    old = os.umask(0o022)
    try:
        steps.run_step(steps.loss_curves, Smk("loss_curves", input={"adapters": adapters},
                           output={"curves": curves, "figure": str(tmp_path / "l.png"),
                                   "page": str(tmp_path / "l.html")}))
    finally:
        os.umask(old)
    for path in [*curves, str(tmp_path / "l.png")]:
        assert os.stat(path).st_mode & 0o777 == 0o644, path
