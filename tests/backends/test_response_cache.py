"""inward.backends.response_cache (persistent SQLite response cache) and
inward.backends.accounting."""

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from inward.backends.accounting import (
    Accountant,
    cost_usd,
    merge_stats,
    usage_path,
    write_accounting,
)
from inward.backends.hosted import distribution_from_top_logprobs, first_line, mode_answer
from inward.backends.response_cache import ResponseCache, cache_dir, cache_key, open_cache
from inward.config.types import ModelConfig


def test_cache_key_is_stable_and_sensitive():
    msgs = [{"role": "user", "content": "hi"}]
    a = cache_key(model="m", base_url="u", messages=msgs, kind="generate", n=1, temperature=0.0,
                  seed=0)
    b = cache_key(seed=0, temperature=0.0, n=1, kind="generate", messages=msgs, base_url="u",
                  model="m")
    assert a == b and len(a) == 64
    for change in ({"seed": 1}, {"temperature": 1.0}, {"n": 2}, {"kind": "sample"},
                   {"model": "m2"}, {"base_url": "v"},
                   {"messages": [{"role": "user", "content": "hi!"}]}):
        parts = {"model": "m", "base_url": "u", "messages": msgs, "kind": "generate", "n": 1,
                 "temperature": 0.0, "seed": 0}
        parts.update(change)
        assert cache_key(**parts) != a, change


def test_persistence_wal_and_stats(tmp_path):
    c = ResponseCache(tmp_path / "r.sqlite")
    assert c.get("k") is None
    c.put("k", {"answers": ["A"]})
    assert c.get("k") == {"answers": ["A"]}
    assert c.stats()["cache_hits"] == 1 and c.stats()["cache_misses"] == 1
    # committed at once: a second, independent connection (another process) sees it
    raw = sqlite3.connect(tmp_path / "r.sqlite")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert json.loads(raw.execute("SELECT value FROM responses WHERE key='k'").fetchone()[0]) \
        == {"answers": ["A"]}
    c.close()
    assert ResponseCache(tmp_path / "r.sqlite").get("k") == {"answers": ["A"]}


def test_thread_safety(tmp_path):
    c = ResponseCache(tmp_path / "r.sqlite")

    def work(t):
        for i in range(50):
            c.put(f"{t}-{i}", {"v": i})
            assert c.get(f"{t}-{i}") == {"v": i}

    ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(c) == 400
    assert c.stats()["cache_hits"] == 400


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("INWARD_CACHE", raising=False)
    hosted = ModelConfig.from_params({"backend": "openai", "model": "m"})
    assert cache_dir() == cache_dir(hosted) == Path("~/.cache/inward").expanduser()
    monkeypatch.setenv("INWARD_CACHE", str(tmp_path / "env"))
    assert cache_dir() == cache_dir(hosted) == tmp_path / "env"
    own = hosted.with_values(cache_dir=str(tmp_path / "cfg"))
    assert cache_dir(own) == tmp_path / "cfg"
    c = open_cache(own)
    assert c is open_cache(hosted.with_values(cache_dir=str(tmp_path / "cfg")))
    assert (tmp_path / "cfg" / "responses.sqlite").exists()


def test_accounting_and_write(tmp_path):
    cfg = ModelConfig.from_params({"backend": "openai", "model": "gpt-x",
                                   "price_per_1k_input": 0.005, "price_per_1k_output": 0.015})
    assert cost_usd(2000, 1000, cfg) == pytest.approx(0.025)
    assert cost_usd(2000, 1000, None) == cost_usd(2000, 1000, ModelConfig()) == 0.0
    a = Accountant(cfg, "gpt-x")
    a.start_batch()
    a.add(requests=2, cache_hits=3, cache_misses=2)
    a.add_usage({"prompt_tokens": 1000, "completion_tokens": 10})
    a.add_usage({"prompt_tokens": 1000, "completion_tokens": 990})
    b = a.end_batch()
    assert b["requests"] == 2 and b["cache_hits"] == 3 and b["total_tokens"] == 3000
    assert b["cost_usd"] == pytest.approx(0.025)
    a.start_batch()
    a.add(cache_hits=1)
    a.end_batch()
    s = a.stats()
    assert s["cache_hits"] == 4 and s["batches"] == 2 and s["last_batch"]["cache_hits"] == 1
    p = write_accounting(s, usage_path("results/out/answers.jsonl", root=tmp_path / "usage"))
    assert p == tmp_path / "usage" / "results" / "out" / "answers.jsonl.usage.json"
    assert usage_path("results/a.jsonl") == Path("logs/usage/results/a.jsonl.usage.json")
    assert json.loads(p.read_text())["cost_usd"] == pytest.approx(0.025)
    assert merge_stats(s, s)["prompt_tokens"] == 4000
    with pytest.raises(KeyError):
        a.add(bogus=1)


def test_answer_helpers():
    assert first_line("A\nB") == "A"
    assert first_line("\n  \nB\r\nC") == "B"
    assert first_line(None) == ""
    # the paper's mode of n (collate_mode_of_n): a tie goes to the smallest prefix (pandas'
    # mode()[0]), answers are compared on their first 40 characters and returned whole, and
    # n answers that all differ have no mode
    assert mode_answer(["B", "A", "A", "B", "C"]) == "A"
    assert mode_answer(["C", "A", "A"]) == "A"
    long = "x" * 40
    assert mode_answer([long + "1", "y", long + "2"]) == long + "1"
    assert mode_answer(["a", "b", "c"]) is None
    assert mode_answer([long + "1", long + "2"]) == long + "1"  # same first 40 characters
    assert mode_answer(["only"]) == "only"
    import math
    d = distribution_from_top_logprobs([(" A", math.log(0.5)), ("A", math.log(0.2)),
                                        ("B", math.log(0.1))])
    assert set(d) == {"A", "B"} and sum(d.values()) == pytest.approx(1.0)
    assert d["A"] == pytest.approx(0.7 / 0.8)
