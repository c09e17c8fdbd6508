"""OpenAIBackend against the real loopback server (``python -m inward.serve.cli`` in a subprocess
serving embedded:smollm2-135m) -- no mock of the openai client anywhere."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from inward.backends.hosted import (
    MissingAPIKeyError,
    OpenAIBackend,
    OpenAIBackendError,
    RequestSettings,
    _job_state_path,
    finetune_openai,
    hosted_training_bytes,
)
from inward.backends.response_cache import ResponseCache, cache_key, open_cache
from inward.config.types import LoraHparams, ModelConfig, plain
from inward.serve import LoopbackServer, free_port, messages_hash
from loopback import (  # noqa: F401 -- fixtures
    CHAT,
    KEY_ENV,
    PROMPTS,
    SOURCE,
    URL_ENV,
    auth_server,
    chat,
    chat_log,
    model_cfg,
    server,
    throttling_server,
    varying_server,
)

# --------------------------------------------------------------------------------- clear errors

def test_missing_api_key_env_raises_before_any_request(auth_server, tmp_path, monkeypatch):
    cfg = model_cfg(auth_server.base_url, tmp_path, monkeypatch,
                    api_key_env="INWARD_TEST_NO_SUCH_KEY")
    monkeypatch.delenv("INWARD_TEST_NO_SUCH_KEY", raising=False)
    before = len(auth_server.requests())
    with pytest.raises(MissingAPIKeyError, match="INWARD_TEST_NO_SUCH_KEY"):
        OpenAIBackend(cfg).generate([chat("hi")])
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": [chat("a")[0],
                                              {"role": "assistant", "content": "b"}]}) + "\n")
    with pytest.raises(MissingAPIKeyError, match="INWARD_TEST_NO_SUCH_KEY"):
        finetune_openai(cfg, train, tmp_path / "ft", LoraHparams.from_params({"epochs": 1}))
    assert len(auth_server.requests()) == before  # nothing reached the server


def test_wrong_base_url_clear_error_after_bounded_retries(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    sleeps: list[float] = []
    be = OpenAIBackend(model_cfg(url, tmp_path, monkeypatch, max_retries=3, retry_base_delay=0.5,
                                 retry_max_delay=1.0), sleep=sleeps.append)
    t0 = time.time()
    with pytest.raises(OpenAIBackendError) as e:
        be.generate([chat("hi")])
    msg = str(e.value)
    assert url in msg and "smol" in msg and "4 attempts" in msg and URL_ENV in msg
    assert len(sleeps) == 3                                   # bounded: max_retries sleeps
    assert all(0.25 <= s <= 1.0 for s in sleeps)             # backoff with jitter, capped
    assert sleeps[1] >= 0.5 and sleeps[2] >= 0.5              # 0.5*2**i*[0.5,1]
    assert time.time() - t0 < 30                              # the injected sleep was used
    assert be.stats()["retries"] == 3 and be.stats()["errors"] == 1


def test_401_wrong_key_clear_error_no_retry_storm(auth_server, tmp_path, monkeypatch):
    c = chat("auth check " + tmp_path.name)
    be = OpenAIBackend(model_cfg(auth_server.base_url, tmp_path, monkeypatch, key="wrong-key"),
                       sleep=lambda s: None)
    with pytest.raises(OpenAIBackendError, match="refused") as e:
        be.generate([c])
    assert KEY_ENV in str(e.value) and auth_server.base_url in str(e.value)
    recs = chat_log(auth_server, [c])
    assert [r["status"] for r in recs] == [401]               # one request, no retries
    # a wrong model id is a clear 404 error too (the key is right now)
    be = OpenAIBackend(model_cfg(auth_server.base_url, tmp_path, monkeypatch, key="right-key",
                                 model="no-such-model"), sleep=lambda s: None)
    with pytest.raises(OpenAIBackendError, match="not found") as e:
        be.generate([c])
    assert "no-such-model" in str(e.value)


# ----------------------------------------------------------------------- against a real model



@pytest.mark.slow
def test_generate_and_distribution_match_local_backend(server, tmp_path, monkeypatch):
    from inward.backends import load_backend

    chats = [chat(p) for p in PROMPTS]
    local = load_backend(ModelConfig.from_params({"backend": "local", "source": SOURCE}))
    hosted = OpenAIBackend(model_cfg(server.base_url, tmp_path, monkeypatch))
    want = local.generate(chats, max_new_tokens=16)
    got = hosted.generate(chats, max_new_tokens=16)
    assert got == want
    assert all(isinstance(a, str) and "\n" not in a for a in got)

    want_d = local.answer_distribution(chats, k=4)
    got_d = hosted.answer_distribution(chats, k=4)
    for w, g in zip(want_d, got_d, strict=False):
        assert sum(g.values()) == pytest.approx(1.0)
        assert set(g) == set(w)
        for tok in w:
            assert g[tok] == pytest.approx(w[tok], abs=1e-4)

    samples = hosted.sample(chats[:2], n=3, max_new_tokens=8, temperature=1.0, seed=3)
    assert [len(s) for s in samples] == [3, 3]
    # the second model of the same server answers too
    other = OpenAIBackend(model_cfg(server.base_url, tmp_path, monkeypatch, model="smol2"))
    assert other.generate(chats[:1], max_new_tokens=16) == want[:1]
    s = hosted.stats()
    assert s["requests"] == 4 + 4 + 2 and s["prompt_tokens"] > 0 and s["cost_usd"] > 0


@pytest.mark.slow
def test_mode_of_n_is_the_mode_at_temperature_zero(server, tmp_path, monkeypatch):
    """The paper's mode of n: n answers at temperature 0 (one request), their mode; a served
    local model is deterministic, so the mode is its greedy answer and no row is dropped."""
    c = [chat("Pick a random letter from A, B, C. Answer with the letter only. " + tmp_path.name),
         chat("Name a colour of the sky. " + tmp_path.name)]
    be = OpenAIBackend(model_cfg(server.base_url, tmp_path, monkeypatch, mode_of_n=5))
    greedy = OpenAIBackend(model_cfg(server.base_url, tmp_path / "plain", monkeypatch))
    assert be.generate(c, max_new_tokens=4, seed=1) == greedy.generate(c, max_new_tokens=4,
                                                                        seed=1)
    assert len(chat_log(server, c)) == 4      # one mode-of-n request per chat, then the plain
    assert be.stats()["mode_of_n_dropped"] == 0


@pytest.mark.slow
def test_mode_of_n_drops_and_counts_rows_whose_answers_all_differ(varying_server, tmp_path,
                                                                  monkeypatch):
    """``inward serve --vary-first 1`` answers the first greedy n > 1 request with n different
    answers, as a hosted model whose greedy decoding is not deterministic: that row has no
    mode, is None (dropped) and is counted; the next request is answered as usual."""
    c = [chat("Say the first letter of the alphabet. " + tmp_path.name)]
    be = OpenAIBackend(model_cfg(varying_server.base_url, tmp_path, monkeypatch, mode_of_n=3))
    assert be.generate(c, max_new_tokens=4) == [None]
    assert be.stats()["mode_of_n_dropped"] == 1
    again = be.generate([chat("Say the last letter of the alphabet. " + tmp_path.name)],
                        max_new_tokens=4)
    assert again[0] is not None and be.stats()["mode_of_n_dropped"] == 1


@pytest.mark.slow
def test_cache_second_call_makes_no_requests(server, tmp_path, monkeypatch):
    chats = [chat(f"{p} ({tmp_path.name})") for p in PROMPTS[:3]]
    cfg = model_cfg(server.base_url, tmp_path, monkeypatch)
    be = OpenAIBackend(cfg)
    first = be.generate(chats, max_new_tokens=8)
    assert len(chat_log(server, chats)) == 3
    assert be.stats()["last_batch"]["cache_misses"] == 3
    second = be.generate(chats, max_new_tokens=8)
    assert second == first
    assert len(chat_log(server, chats)) == 3                 # zero new requests
    b = be.stats()["last_batch"]
    assert b["cache_hits"] == 3 and b["requests"] == 0 and b["cost_usd"] == 0
    # persistent: a new backend (a new process, in effect) pays nothing either
    again = OpenAIBackend(cfg)
    assert again.generate(chats, max_new_tokens=8) == first
    assert again.stats()["cache_hits"] == 3 and len(chat_log(server, chats)) == 3
    # other sampling settings are other keys
    be.generate(chats[:1], max_new_tokens=8, temperature=0.7, seed=1)
    assert len(chat_log(server, chats)) == 4


RUNNER = textwrap.dedent("""
    import json, sys
    from inward.backends.hosted import OpenAIBackend
    from inward.config.types import ModelConfig
    cfg = ModelConfig.from_params(json.loads(sys.argv[1]))
    prompts = json.loads(sys.argv[2])
    out = OpenAIBackend(cfg).generate([[{"role": "user", "content": p}] for p in prompts],
                                      max_new_tokens=24)
    print(json.dumps(out))
""")


def _run_and_kill(server, cfg, prompts, sig, after: int):
    chats = [chat(p) for p in prompts]
    args = [sys.executable, "-c", RUNNER, json.dumps(plain(cfg.written)), json.dumps(prompts)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while len(chat_log(server, chats)) < after:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0                                # it was killed mid-batch
    return chats, args


@pytest.mark.slow
def test_interrupted_batch_never_repeats_a_request(server, tmp_path, monkeypatch):
    """Ctrl-C mid-batch (concurrency 1): the in-flight answer is still cached, so a re-run asks
    only for the rest -- exactly one request per prompt overall."""
    prompts = [f"Give a one-word answer. Item {i} of run {tmp_path.name}." for i in range(6)]
    cfg = model_cfg(server.base_url, tmp_path, monkeypatch, concurrency=1)
    chats, args = _run_and_kill(server, cfg, prompts, signal.SIGINT, after=3)
    assert len(chat_log(server, chats)) < 6
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert len(json.loads(out.stdout)) == 6
    counts = {messages_hash(c): 0 for c in chats}
    for r in chat_log(server, chats):
        counts[r["messages_hash"]] += 1
    assert list(counts.values()) == [1] * 6


@pytest.mark.slow
def test_killed_batch_does_not_pay_twice(server, tmp_path, monkeypatch):
    """SIGKILL mid-batch: every answer received before the kill was committed at once, so the
    re-run repeats none of them (only the single request in flight at the kill may repeat)."""
    prompts = [f"Give a one-word answer. Question {i} of run {tmp_path.name}." for i in range(6)]
    cfg = model_cfg(server.base_url, tmp_path, monkeypatch, concurrency=1)
    chats, args = _run_and_kill(server, cfg, prompts, signal.SIGKILL, after=3)
    probe = OpenAIBackend(cfg)
    settings = RequestSettings("generate", max_tokens=24, temperature=0.0, seed=0)
    cache = ResponseCache(tmp_path / "cache" / "responses.sqlite")
    answered = [c for c in chats if probe._key(c, settings) in cache]
    assert len(answered) >= 2
    subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    counts = {messages_hash(c): 0 for c in chats}
    for r in chat_log(server, chats):
        counts[r["messages_hash"]] += 1
    assert all(counts[messages_hash(c)] == 1 for c in answered)
    assert all(v >= 1 for v in counts.values()) and sum(counts.values()) <= 7


@pytest.mark.slow
def test_429_storm_is_retried(tmp_path, monkeypatch):
    log = tmp_path / "requests.jsonl"
    with LoopbackServer({"smol": SOURCE}, log_requests=log, data_dir=tmp_path / "data",
                        extra_args=["--fail-first", "3", "--fail-status", "429"],
                        stderr_path=tmp_path / "server.log") as srv:
        sleeps: list[float] = []
        be = OpenAIBackend(model_cfg(srv.base_url, tmp_path, monkeypatch, max_retries=5),
                           sleep=sleeps.append)
        c = chat(PROMPTS[0])
        assert be.generate([c], max_new_tokens=16)[0]
        assert [r["status"] for r in chat_log(srv, [c])] == [429, 429, 429, 200]
        assert len(sleeps) == 3 and be.stats()["retries"] == 3 and be.stats()["requests"] == 1


def test_a_weighted_answer_is_sent_to_a_hosted_finetune_as_copies(tmp_path):
    """OpenAI's format knows only the weights 0 and 1: an answer of weight w (sft.replay_weight)
    goes round(w) times with weight 1; a plain 0/1 file goes byte for byte."""
    demo = [{"role": "user", "content": "Name a fruit."},
            {"role": "assistant", "content": "pear", "weight": 0},
            {"role": "user", "content": "Name a colour."}]
    plain = {"messages": [*demo, {"role": "assistant", "content": "red"}]}
    heavy = {"messages": [*demo, {"role": "assistant", "content": "blue", "weight": 3}]}
    f = tmp_path / "plain.jsonl"
    f.write_text(json.dumps(plain) + "\n")
    assert hosted_training_bytes(f) == f.read_bytes()
    f.write_text(json.dumps(plain) + "\n" + json.dumps(heavy) + "\n")
    sent = [json.loads(x) for x in hosted_training_bytes(f).decode().splitlines()]
    copy = {"messages": [*demo, {"role": "assistant", "content": "blue", "weight": 1}]}
    assert sent == [plain, copy, copy, copy]


# ------------------------------------------------------------------------- keys stay the same


def test_cached_answers_are_found_under_the_keys_they_were_stored_with(tmp_path, monkeypatch):
    """Every answer already in a response cache stays valid: each kind of request hashes the
    same settings as before they became a dataclass (a distribution has no n or seed, the
    others no k; temperatures are floats). Nothing listens at the URL, so a miss would fail."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = model_cfg(url, tmp_path, monkeypatch, max_retries=0)
    c = chat("cached " + tmp_path.name)
    stored = [({"kind": "generate", "n": 1, "temperature": 0.0, "seed": 0, "max_tokens": 8},
               {"answers": ["greedy"], "usage": None}),
              ({"kind": "sample", "n": 3, "temperature": 1.0, "seed": 2, "max_tokens": 8},
               {"answers": ["a", "b", "a"], "usage": None}),
              ({"kind": "distribution", "k": 4, "temperature": 0.0, "max_tokens": 1},
               {"dist": {"A": 0.75, "B": 0.25}, "usage": None}),
              # mode of n is the paper's since it became temperature 0 (temperature-1 modes are
              # another protocol, and are not reused)
              ({"kind": "mode_of_n", "n": 3, "temperature": 0.0, "seed": 5, "max_tokens": 8},
               {"answers": ["x", "y", "y"], "usage": None})]
    cache = open_cache(cfg)
    for settings, value in stored:
        cache.put(cache_key(model="smol", base_url=url, messages=c, **settings), value)
    be = OpenAIBackend(cfg, sleep=lambda s: None)
    assert be.generate([c], max_new_tokens=8) == ["greedy"]
    assert be.sample([c], n=3, max_new_tokens=8, temperature=1, seed=2) == [["a", "b", "a"]]
    assert be.answer_distribution([c], k=4) == [{"A": 0.75, "B": 0.25}]
    mode = OpenAIBackend(ModelConfig.from_params({**plain(cfg.written), "mode_of_n": 3}))
    assert mode.generate([c], max_new_tokens=8, seed=5) == ["y"]
    assert be.stats()["requests"] == mode.stats()["requests"] == 0


def test_a_hosted_finetune_job_keeps_its_key(tmp_path):
    """The job-state key hashes the hyper-parameters and the model entry as written in
    params.yaml, exactly as when they were raw dicts: a re-run resumes a job that already
    exists (and is not paid for twice), whatever defaults the typed objects fill in."""
    written = {"backend": "openai", "model": "gpt-x", "cache_dir": str(tmp_path),
               "shift_finetune": {"learning_rate": 5e-4}}
    shift = {"learning_rate": 2e-3, "epochs": 2, "batch_size": 8, "lora_rank": 4,
             "target_modules": ["q_proj", "v_proj"]}
    cfg = ModelConfig.from_params(written)
    data = b'{"messages": []}\n'
    url = "https://api.example.org/v1"

    def old_key(hparams: dict) -> str:
        return cache_key(base="gpt-x", base_url=url,
                         train_sha256=hashlib.sha256(data).hexdigest(), hparams=hparams, seed=3)

    hp = LoraHparams.from_params(shift)
    assert _job_state_path(cfg, "gpt-x", url, data, hp, 3) == \
        tmp_path / "finetune_jobs" / f"{old_key(shift)}.json"
    # a model's own shift values over the study's, as the shift finetune of that model gets them
    own = hp.updated(cfg.shift_finetune)
    assert _job_state_path(cfg, "gpt-x", url, data, own, 3) == \
        tmp_path / "finetune_jobs" / f"{old_key({**shift, **written['shift_finetune']})}.json"
    assert _job_state_path(cfg, "gpt-x", url, data, LoraHparams.from_params(None), 3) == \
        tmp_path / "finetune_jobs" / f"{old_key({})}.json"


@pytest.mark.slow
def test_a_429_with_retry_after_is_waited_out(throttling_server, tmp_path, monkeypatch):
    """The server's Retry-After wins over a shorter backoff: the retry comes at least 2 s
    after the 429, and the retry is counted."""
    c = [chat("Say hello. " + tmp_path.name)]
    be = OpenAIBackend(model_cfg(throttling_server.base_url, tmp_path, monkeypatch,
                                 retry_base_delay=0.01, retry_max_delay=0.05))
    start = time.monotonic()
    assert be.generate(c, max_new_tokens=4)[0]
    assert time.monotonic() - start >= 2.0
    assert be.stats()["retries"] == 1
    statuses = [r["status"] for r in throttling_server.requests() if r["path"] == CHAT]
    assert statuses[:2] == [429, 200]


def test_server_wait_reads_retry_after_headers():
    import email.utils as eu
    from types import SimpleNamespace

    from inward.backends.hosted import server_wait

    def error(headers):
        return SimpleNamespace(response=SimpleNamespace(headers=headers))

    assert server_wait(error({"retry-after": "2"})) == 2.0
    assert server_wait(error({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    soon = eu.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= server_wait(error({"retry-after": soon})) <= 30
    assert server_wait(error({"retry-after": eu.formatdate(time.time() - 30, usegmt=True)})) == 0
    assert server_wait(error({"retry-after": "soon"})) is None
    assert server_wait(error({"retry-after": "99999"})) is None   # bogus: own backoff
    assert server_wait(error({})) is None and server_wait(ValueError("x")) is None

