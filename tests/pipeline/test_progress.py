"""Progress of model jobs and finetunes reaches both the rule's log and the terminal where
Snakemake runs (``inward.records.progress``), through ``run_step`` as a rule calls it."""

import io
import json
import os
import re
import sys

import pytest

from inward.pipeline import steps
from inward.records.jsonl import read_jsonl, write_jsonl
from inward.records.progress import Progress, duration
from inward.tasks.catalog import Item

ITEMS = [Item("colours", f"colours-{i:05d}", f"Continue the colours {i}.", None, "test")
         for i in range(5)]


class Named(dict):
    def __getitem__(self, key):
        return list(self.values())[key] if isinstance(key, int) else super().__getitem__(key)


class Smk:
    """What run_step reads of Snakemake's ``snakemake`` object."""

    def __init__(self, input=None, output=None, params=None, log=None, threads=1):
        self.input, self.output, self.params = Named(input or {}), Named(output or {}), \
            Named(params or {})
        self.log, self.threads = Named({"log": log}) if log else Named(), threads


@pytest.fixture
def terminal(monkeypatch):
    """The process's real stderr, which run_step does not redirect."""
    screen = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", screen)
    before = os.environ.get("OMP_NUM_THREADS")
    yield screen
    if before is None:  # run_step sets it for the job's process
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = before


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lines_say_done_total_rate_and_time_left_and_the_terminal_is_throttled(terminal):
    clock, log = Clock(), io.StringIO()
    sys_stderr = sys.stderr
    sys.stderr = log
    try:
        meter = Progress("results/object/m/test.jsonl", 100, "prompts", interval=10,
                         clock=clock)
        clock.now += 5
        meter.update(10)           # first line: both
        clock.now += 5
        meter.update(20)           # 5 s after the last shown: the log only
        clock.now += 10
        meter.update(40, fresh=30)  # 10 resumed from a checkpoint: rate counts 30 in 20 s
        clock.now += 1
        meter.update(100)          # last line: both
    finally:
        sys.stderr = sys_stderr
    logged, shown = log.getvalue().splitlines(), terminal.getvalue().splitlines()
    assert logged == [
        "[inward] results/object/m/test.jsonl: 10/100 prompts (10%, 2.00 prompts/s, 45s left)",
        "[inward] results/object/m/test.jsonl: 20/100 prompts (20%, 2.00 prompts/s, 40s left)",
        "[inward] results/object/m/test.jsonl: 40/100 prompts (40%, 1.50 prompts/s, 40s left)",
        "[inward] results/object/m/test.jsonl: 100/100 prompts (100%, 4.76 prompts/s, "
        "done in 21s)"]
    assert shown == [logged[0], logged[2], logged[3]]
    assert [duration(s) for s in (42, 185, 3725)] == ["42s", "3m05s", "1h02m"]


def test_unredirected_lines_are_written_once(capsys):
    Progress("job", 2, "steps").update(2)
    err = capsys.readouterr().err
    assert err.count("job: 2/2 steps") == 1


class FakeBackend:
    """Answers every chat with its last message's length: no model, only the call path."""

    def generate(self, chats, max_new_tokens, temperature, seed):
        return [str(len(c[-1]["content"])) for c in chats]


def test_a_model_step_reports_every_chunk_to_its_log_and_to_the_terminal(tmp_path, terminal,
                                                                         monkeypatch):
    monkeypatch.setattr("inward.backends.load_backend", lambda *a, **k: FakeBackend())
    items, answers, log = tmp_path / "items.jsonl", tmp_path / "answers.jsonl", \
        tmp_path / "logs" / "object.log"
    write_jsonl([it.to_dict() for it in ITEMS], items)
    steps.run_step(steps.object_answers, Smk(
        input={"item_file": str(items)}, output={"answers": str(answers)},
        params={"model_cfg": {"backend": "local", "source": "embedded:smollm2-135m"},
                "gen": {"object_max_new_tokens": 4, "hypothetical_max_new_tokens": 4,
                        "batch_size": 2, "demonstration": False}, "seed": 0},
        log=str(log)))
    assert [r["response"] for r in read_jsonl(answers)] == \
        [str(len(it.prompt)) for it in ITEMS]
    pattern = re.escape(str(answers)) + r": (\d)/5 prompts \(\d+%, [\d.]+ prompts/s, "
    in_log = [int(m.group(1)) for m in re.finditer(pattern, log.read_text())]
    on_screen = [int(m.group(1)) for m in re.finditer(pattern, terminal.getvalue())]
    assert in_log == [2, 4, 5]  # every chunk of 2 prompts
    assert on_screen[0] == 2 and on_screen[-1] == 5  # the first and the last at least
    assert "done in" in terminal.getvalue().splitlines()[-1]


@pytest.mark.slow
def test_a_lora_finetune_reports_its_steps_to_its_log_and_to_the_terminal(
        tmp_path, terminal, smollm_backend):
    words = ["apple", "banana", "cherry", "dragon", "eagle", "forest"]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"First letter of '{w}'?"},
        {"role": "assistant", "content": w[0].upper()}]}) + "\n" for w in words))
    adapter, log = tmp_path / "adapter", tmp_path / "finetune.log"
    steps.run_step(steps.finetune, Smk(
        input={"data": str(data)}, output={"adapter_out": str(adapter)},
        params={"model_cfg": {"backend": "local", "source": "embedded:smollm2-135m"},
                "hparams": {"learning_rate": 1e-3, "epochs": 1, "batch_size": 2,
                            "grad_accum": 1, "lora_rank": 4, "lora_alpha": 8,
                            "lora_dropout": 0.0, "max_steps": 2},
                "seed": 0},
        log=str(log)))
    line = re.escape(f"{adapter} (LoRA): 2/2 steps (100%, ") + r"[\d.]+ steps/s, done in"
    assert re.search(line, log.read_text()), log.read_text()
    assert re.search(line, terminal.getvalue()), terminal.getvalue()
    assert re.search(re.escape(f"{adapter} (LoRA): 1/2 steps") + r".*left, loss \d",
                     terminal.getvalue())
