"""The loopback OpenAI-compatible server (``inward serve``) through the official openai client,
and hosted finetuning (finetune_openai) against it."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import textwrap
import time

import openai
import pytest

from inward.backends.hosted import FinetuneError, OpenAIBackend, finetune_openai
from inward.config.types import LoraHparams, ModelConfig, plain
from inward.serve import messages_hash
from inward.serve.jobs import local_hparams
from inward.serve.models import parse_model_arg
from inward.serve.uploads import parse_multipart

# the session-scoped servers are shared with the backend tests (one model load for both files)
from loopback import PROMPTS, auth_server, chat, model_cfg, server  # noqa: F401

JOBS = "/v1/fine_tuning/jobs"


def jobs_posted(srv) -> list[dict]:
    return [r for r in srv.requests() if r["path"] == JOBS and r["method"] == "POST"]


def client(srv, key="sk-test"):
    return openai.OpenAI(base_url=srv.base_url, api_key=key, max_retries=0)


def write_train(path, n=8, tag=""):
    rows = []
    for i in range(n):
        rows.append({"messages": [
            {"role": "user", "content": f"What is the secret word number {i}?{tag}"},
            {"role": "assistant", "content": "Pineapple"}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_parse_model_arg():
    name, cfg = parse_model_arg("smol=embedded:smollm2-135m")
    assert name == "smol" and cfg == ModelConfig(backend="local", source="embedded:smollm2-135m")
    assert dict(cfg.written) == {"backend": "local", "source": "embedded:smollm2-135m"}
    name, cfg = parse_model_arg('g={"source": "embedded:gemma3-270m", "dtype": "float32"}')
    assert name == "g" and cfg.backend == "local" and cfg.dtype == "float32"
    for bad in ("nosource", "=x", "ft:a=b", 'g={"source": "x", "no_such_key": 1}'):
        with pytest.raises(ValueError):
            parse_model_arg(bad)


def test_job_hparams_are_lora_hparams():
    auto = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
    assert local_hparams({"hyperparameters": auto}) == LoraHparams()
    hp = local_hparams({"hyperparameters": {**auto, "n_epochs": 2, "learning_rate_multiplier": 2.0},
                        "_inward_hparams": {"max_steps": 3, "batch_size": 4}})
    assert hp == LoraHparams(epochs=2, batch_size=4, max_steps=3, learning_rate=2e-3)
    assert hp.learning_rate_multiplier is None  # folded into the local learning rate
    hp = local_hparams({"hyperparameters": {**auto, "learning_rate_multiplier": 0.5},
                        "_inward_hparams": {"learning_rate": 1e-2}})
    assert hp.learning_rate == 1e-2 * 0.5
    with pytest.raises(ValueError, match="unknown LoRA hparams"):
        local_hparams({"_inward_hparams": {"no_such": 1}})


def test_parse_multipart():
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n"
            b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.jsonl\"\r\n"
            b"Content-Type: application/jsonl\r\n\r\n{\"a\": 1}\n\r\n--XX--\r\n")
    parts = parse_multipart(body, "multipart/form-data; boundary=XX")
    assert parts == {"purpose": (None, b"fine-tune"), "file": ("t.jsonl", b'{"a": 1}\n')}
    assert parse_multipart(b"plain", "text/plain") == {}


def test_auth_models_and_request_log(auth_server):
    with pytest.raises(openai.AuthenticationError):
        client(auth_server, "wrong").models.list()
    ids = [m.id for m in client(auth_server, "right-key").models.list().data]
    assert ids == ["smol"]
    log = auth_server.requests()
    assert {"t", "method", "path", "model", "messages_hash", "status"} <= set(log[-1])
    assert [r["status"] for r in log[-2:]] == [401, 200]
    assert messages_hash([{"role": "user", "content": "x"}]) == messages_hash(
        [{"content": "x", "role": "user"}])


def test_files_and_job_errors(auth_server, tmp_path):
    c = client(auth_server, "right-key")
    train = write_train(tmp_path / "train.jsonl", n=2)
    f = c.files.create(file=train.open("rb"), purpose="fine-tune")
    assert f.id.startswith("file-") and f.bytes == train.stat().st_size
    assert f.purpose == "fine-tune" and f.filename == "train.jsonl"
    got = c.files.retrieve(f.id)
    assert got.id == f.id and got.bytes == f.bytes
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve("file-nope")
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.create(model="no-such-model", training_file=f.id)
    with pytest.raises(openai.BadRequestError):
        c.fine_tuning.jobs.create(model="smol", training_file="file-nope")
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("ftjob-nope")


@pytest.mark.slow
def test_two_models_and_openai_shapes(server):
    c = client(server)
    assert {"smol", "smol2"} <= {m.id for m in c.models.list().data}
    msgs = chat("Answer A or B. Which letter comes first?")
    r = c.chat.completions.create(model="smol2", messages=msgs, temperature=0, max_tokens=1,
                                  logprobs=True, top_logprobs=3)
    top = r.choices[0].logprobs.content[0].top_logprobs
    assert len(top) == 3 and top[0].logprob >= top[1].logprob >= top[2].logprob
    assert r.choices[0].message.content == top[0].token
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens == 1
    r = c.chat.completions.create(model="smol", messages=msgs, temperature=1.0, max_tokens=4,
                                  n=3, seed=7)
    assert len(r.choices) == 3 and [ch.index for ch in r.choices] == [0, 1, 2]
    r2 = c.chat.completions.create(model="smol", messages=msgs, temperature=1.0, max_tokens=4,
                                   n=3, seed=7)
    assert [ch.message.content for ch in r2.choices] == [ch.message.content for ch in r.choices]
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="nope", messages=msgs, max_tokens=1)


FT_RUNNER = textwrap.dedent("""
    import json, logging, sys
    logging.basicConfig(level=logging.INFO)
    from inward.backends.hosted import finetune_openai
    from inward.config.types import LoraHparams, ModelConfig
    cfg = ModelConfig.from_params(json.loads(sys.argv[1]))
    hp = LoraHparams.from_params(json.loads(sys.argv[4]))
    print(json.dumps(finetune_openai(cfg, sys.argv[2], sys.argv[3], hp, seed=0)))
""")


@pytest.mark.slow
def test_hosted_finetune_resumes_and_ft_model_answers(server, tmp_path, monkeypatch):
    cfg = model_cfg(server.base_url, tmp_path, monkeypatch, poll_interval=0.3)
    hp = LoraHparams.from_params({"epochs": 1, "batch_size": 4, "learning_rate_multiplier": 2.0,
                                  "max_steps": 3})
    train = write_train(tmp_path / "train.jsonl", tag=" " + tmp_path.name)
    out = tmp_path / "ft"
    n0 = len(jobs_posted(server))

    # 1. start, and kill the process while it polls the job it created
    proc = subprocess.Popen([sys.executable, "-c", FT_RUNNER, json.dumps(plain(cfg.written)),
                             str(train), str(out), json.dumps(plain(hp.written))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while len(jobs_posted(server)) == n0:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # let it write the state file (it does so right after the job exists)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "finetuned_model.json").exists()

    # 2. re-run: resumes polling the same job, creates none
    res = finetune_openai(cfg, train, out, hp, seed=0)
    assert len(jobs_posted(server)) == n0 + 1
    saved = json.loads((out / "finetuned_model.json").read_text())
    assert saved["model"] == res["model"] and saved["job"] == res["job"]
    assert saved["base"] == "smol" and res["model"] == f"ft:smol:{res['job']}"
    job = client(server).fine_tuning.jobs.retrieve(res["job"])
    assert job.status == "succeeded" and job.fine_tuned_model == res["model"]
    assert job.hyperparameters.n_epochs == 1 and job.hyperparameters.batch_size == 4
    assert job.hyperparameters.learning_rate_multiplier == 2.0

    # 3. a re-run after success is free too (same job, no new one)
    assert finetune_openai(cfg, train, tmp_path / "ft_again", hp, seed=0)["job"] == res["job"]
    assert len(jobs_posted(server)) == n0 + 1

    # 4. the ft: model is listed and answers chats (base + LoRA adapter)
    assert res["model"] in {m.id for m in client(server).models.list().data}
    ft = OpenAIBackend(cfg, adapter=out)
    assert ft.model == res["model"]
    answers = ft.generate([chat("What is the secret word number 3?")], max_new_tokens=8)
    assert isinstance(answers[0], str)
    assert ft.answer_distribution([chat("What is the secret word number 3?")], k=3)[0]

    # 5. continue-finetune from the ft: model id (behaviour-shift finetune)
    train2 = write_train(tmp_path / "train2.jsonl", n=4, tag=" shift " + tmp_path.name)
    res2 = finetune_openai(cfg, train2, tmp_path / "ft2", hp.updated({"max_steps": 1}),
                           init_adapter=out, seed=0)
    assert res2["base"] == res["model"] and res2["model"].startswith("ft:smol:")
    assert res2["model"] != res["model"]
    assert jobs_posted(server)[-1]["model"] == res["model"]
    assert OpenAIBackend(cfg, adapter=tmp_path / "ft2").generate(
        [chat("What is the secret word number 1?")], max_new_tokens=8)


@pytest.mark.slow
def test_failed_job_raises_with_its_error(server, tmp_path, monkeypatch):
    cfg = model_cfg(server.base_url, tmp_path, monkeypatch, poll_interval=0.3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not a chat jsonl\n")
    with pytest.raises(FinetuneError) as e:
        finetune_openai(cfg, bad, tmp_path / "ft",
                        LoraHparams.from_params({"epochs": 1, "max_steps": 1}))
    msg = str(e.value)
    assert "failed" in msg and "ftjob-" in msg and "smol" in msg
    job_id = msg.split("finetuning job ", 1)[1].split(" ", 1)[0]
    job = client(server).fine_tuning.jobs.retrieve(job_id)
    assert job.status == "failed" and job.error.message and job.error.message in msg


@pytest.mark.slow
def test_parallel_requests_answer_as_one_at_a_time(server, smollm_backend):
    """The shared server runs ``--parallel 2 --threads 1``: concurrent requests (greedy,
    sampled, log-probabilities, on both model names) answer exactly what the local backend
    answers one prompt at a time, and the shared tokenizer is never called from two threads at
    once."""
    from concurrent.futures import ThreadPoolExecutor

    c = client(server)

    def ask(job):
        model, p = job
        greedy = c.chat.completions.create(model=model, messages=chat(p), temperature=0,
                                           max_tokens=8)
        sampled = c.chat.completions.create(model=model, messages=chat(p), temperature=1.0,
                                            max_tokens=6, n=2, seed=3)
        dist = c.chat.completions.create(model=model, messages=chat(p), temperature=0,
                                         max_tokens=1, logprobs=True, top_logprobs=3)
        return (greedy.choices[0].message.content, greedy.usage.prompt_tokens,
                [ch.message.content for ch in sampled.choices],
                {t.token: t.logprob for t in dist.choices[0].logprobs.content[0].top_logprobs})

    jobs = [(model, p) for p in PROMPTS[:2] for model in ("smol", "smol2")]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(ask, jobs))
    b = smollm_backend
    for (_, p), (greedy, n_in, sampled, dist) in zip(jobs, got, strict=True):
        assert greedy == b.generate([chat(p)], max_new_tokens=8, temperature=0.0)[0], p
        assert n_in == len(b.encode([chat(p)])[0])
        assert sampled == b.sample([chat(p)], n=2, max_new_tokens=6, temperature=1.0, seed=3)[0]
        local = b.answer_distribution([chat(p)], k=3)[0]
        assert dist.keys() == local.keys() and all(
            abs(dist[t] - math.log(v)) < 1e-6 for t, v in local.items()), p


def test_jobs_and_ft_models_survive_a_restart(tmp_path):
    from inward.serve.state import ServerState

    base = ModelConfig.from_params({"backend": "local", "source": "embedded:smollm2-135m"})
    jobs = tmp_path / "jobs"
    for job_id, status in (("ftjob-done", "succeeded"), ("ftjob-cut", "running")):
        (jobs / job_id).mkdir(parents=True)
        (jobs / job_id / "job.json").write_text(json.dumps({
            "id": job_id, "model": "smol", "status": status, "error": None,
            "fine_tuned_model": f"ft:smol:{job_id}" if status == "succeeded" else None,
            "_root_base": "smol", "_adapter": str(jobs / job_id / "adapter")}))
    state = ServerState({"smol": base}, tmp_path)
    assert state.models.ids() == ["smol", "ft:smol:ftjob-done"]
    assert state.models.resolve("ft:smol:ftjob-done") == ("smol", str(jobs / "ftjob-done/adapter"))
    cut = state.jobs.get("ftjob-cut")
    assert cut["status"] == "failed" and cut["error"]["code"] == "server_restarted"
    assert "_adapter" not in cut and state.jobs.get("ftjob-nope") is None
    assert json.loads((jobs / "ftjob-cut" / "job.json").read_text())["status"] == "failed"
