"""OpenAI-compatible loopback server over the local backend (FastAPI + uvicorn).

    python -m inward.serve.cli --model smollm2=embedded:smollm2-135m \\
        [--model gemma=embedded:gemma3-270m] [--host 127.0.0.1] [--port 8000] \\
        [--log-requests requests.jsonl] [--data-dir DIR] [--threads N] \\
        [--parallel N] [--require-key KEY] [--fail-first N --fail-status 429] [--lazy]

(or ``inward serve ...``).  Endpoints:

* ``GET  /v1/models``
* ``POST /v1/chat/completions`` -- temperature 0 and n 1 -> ``LocalBackend.generate``; n > 1 or
  temperature > 0 -> ``LocalBackend.sample``; ``logprobs`` + ``top_logprobs`` ->
  ``LocalBackend.answer_distribution`` (first-token top_logprobs in OpenAI's shape); ``usage``.
* ``POST /v1/files`` (multipart, purpose fine-tune), ``GET /v1/files/{id}``
* ``POST /v1/fine_tuning/jobs`` -- ``inward.backends.finetune`` in a background thread on the
  uploaded file; the result ``ft:<base>:<job id>`` is served as base + LoRA adapter.  A job on
  an ``ft:`` model continues from that model's adapter.  Extra local hparams (e.g. max_steps)
  may be sent as ``inward_hparams`` in the body.
* ``GET  /v1/fine_tuning/jobs/{id}``

Every request is appended to ``--log-requests`` as one JSON line
``{"t", "method", "path", "model", "messages_hash", "status"}`` (``messages_hash`` =
:func:`messages_hash`).  Files, jobs and adapters live under ``--data-dir`` (default
``$INWARD_CACHE/serve``) and survive restarts: a finetuned model stays servable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path
from typing import Any, Self

from starlette.requests import Request

log = logging.getLogger("inward.serve.app")


def messages_hash(messages: Any) -> str:
    """sha256 of the canonical JSON of a messages list (what the request log records)."""
    canon = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def parse_model_arg(spec: str) -> tuple[str, dict]:
    """``NAME=SOURCE`` -> (NAME, local model cfg). SOURCE may also be a JSON model cfg."""
    if "=" not in spec:
        raise ValueError(f"--model expects NAME=SOURCE (e.g. smollm2=embedded:smollm2-135m), "
                         f"got {spec!r}")
    name, source = spec.split("=", 1)
    name, source = name.strip(), source.strip()
    if not name or not source:
        raise ValueError(f"--model expects NAME=SOURCE, got {spec!r}")
    if name.startswith("ft:"):
        raise ValueError(f"model name {name!r} may not start with 'ft:'")
    if source.startswith("{"):
        cfg = json.loads(source)
        cfg.setdefault("backend", "local")
    else:
        cfg = {"backend": "local", "source": source}
    return name, cfg


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Parse multipart/form-data without python-multipart: {field: (filename, bytes)}."""
    msg = BytesParser(policy=email_policy).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
        + body)
    out: dict[str, tuple[str | None, bytes]] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = str(part.get_payload()).encode()
        out[str(name)] = (part.get_filename(), payload)
    return out


class ServerState:
    """Models, loaded backends, files and finetuning jobs of one server."""

    def __init__(self, models: dict[str, dict], data_dir: Path, log_path: Path | None = None,
                 require_key: str | None = None, fail_first: int = 0, fail_status: int = 429,
                 threads: int | None = None, max_loaded: int = 4, parallel: int = 1):
        self.bases = dict(models)
        self.data_dir = Path(data_dir).expanduser()
        for sub in ("files", "jobs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.log_path = Path(log_path) if log_path else None
        self.require_key = require_key
        self.fail_left = int(fail_first)
        self.fail_status = int(fail_status)
        self.threads = threads
        self.max_loaded = max_loaded
        self.ft: dict[str, dict] = {}           # ft model id -> {"base": name, "adapter": dir}
        self.jobs: dict[str, dict] = {}
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        self._tok: dict[str, Any] = {}
        self._tok_lock = threading.Lock()       # tokenizers loaded here for token counts
        self._load_lock = threading.Lock()      # one model load at a time: no double loads
        self.lock = threading.RLock()           # state
        # at most ``parallel`` requests compute at once, each with torch's ``threads``: with one
        # thread each, answers are bit-identical to serving one request at a time
        self.compute = threading.BoundedSemaphore(max(1, int(parallel)))
        self.train_lock = threading.Lock()      # one finetune at a time
        self._log_lock = threading.Lock()
        self._load_jobs()

    # -- persistence ---------------------------------------------------------------------------
    def _job_file(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id / "job.json"

    def _save_job(self, job: dict) -> None:
        p = self._job_file(job["id"])
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name("job.json.tmp")
        tmp.write_text(json.dumps(job, indent=2))
        tmp.replace(p)

    def _load_jobs(self) -> None:
        for p in sorted((self.data_dir / "jobs").glob("*/job.json")):
            try:
                job = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if job["status"] not in ("succeeded", "failed", "cancelled"):
                job["status"] = "failed"
                job["error"] = {"code": "server_restarted", "param": None,
                                "message": "the server stopped while this job was running"}
                self._save_job(job)
            self.jobs[job["id"]] = job
            if job["status"] == "succeeded" and job["_root_base"] in self.bases:
                self.ft[job["fine_tuned_model"]] = {"base": job["_root_base"],
                                                    "adapter": job["_adapter"]}

    # -- request log ---------------------------------------------------------------------------
    def log_request(self, method: str, path: str, model: str | None, messages: Any,
                    status: int) -> None:
        if self.log_path is None:
            return
        rec = {"t": time.time(), "method": method, "path": path, "model": model,
               "messages_hash": messages_hash(messages) if messages is not None else None,
               "status": status}
        with self._log_lock, open(self.log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()

    # -- models --------------------------------------------------------------------------------
    def model_ids(self) -> list[str]:
        with self.lock:
            return list(self.bases) + list(self.ft)

    def resolve(self, model: str) -> tuple[str, str | None] | None:
        """model id -> (base name, adapter dir or None)."""
        with self.lock:
            if model in self.bases:
                return model, None
            if model in self.ft:
                return self.ft[model]["base"], self.ft[model]["adapter"]
        return None

    def backend(self, model: str):
        from inward.backends import load_backend

        base, adapter = self.resolve(model)  # type: ignore[misc]
        with self.lock:
            if model in self._loaded:
                self._loaded.move_to_end(model)
                return self._loaded[model]
        with self._load_lock:
            with self.lock:  # loaded by another request while this one waited
                if model in self._loaded:
                    return self._loaded[model]
            be = load_backend(self.bases[base], adapter=adapter, threads=self.threads)
            with self.lock:
                self._loaded[model] = be
                while len(self._loaded) > self.max_loaded:
                    self._loaded.popitem(last=False)
            return be

    def count_tokens(self, model: str, backend, messages: list[dict],
                     completions: list[str]) -> tuple[int, int]:
        base, _ = self.resolve(model)  # type: ignore[misc]
        try:
            tok = getattr(backend, "tokenizer", None) or getattr(backend, "tok", None)
            if tok is None:
                with self.lock:
                    tok = self._tok.get(base)
                if tok is None:
                    from inward.models.embedded import load_tokenizer
                    tok = load_tokenizer(self.bases[base]["source"])
                    with self.lock:
                        self._tok[base] = tok
            try:
                from inward.models.embedded import chat_format, format_chat
                text = format_chat(tok, messages, chat_format(self.bases[base]["source"], tok))
            except Exception:  # noqa: BLE001 - fall back to the raw contents
                text = "\n".join(str(m.get("content", "")) for m in messages)
            # fast tokenizers must not be called from two threads at once
            with getattr(backend, "tokenizer_lock", None) or self._tok_lock:
                n_in = len(tok(text, add_special_tokens=False)["input_ids"])
                n_out = sum(len(tok(c, add_special_tokens=False)["input_ids"])
                            for c in completions)
            return n_in, n_out
        except Exception:  # noqa: BLE001 - approximate rather than fail the request
            n_in = sum(len(str(m.get("content", "")).split()) + 4 for m in messages)
            return n_in, sum(len(c.split()) for c in completions)

    # -- fine-tuning ---------------------------------------------------------------------------
    def run_job(self, job_id: str) -> None:
        from inward.backends import finetune

        with self.lock:
            job = self.jobs[job_id]
        try:
            with self.train_lock:
                with self.lock:
                    job["status"] = "running"
                    self._save_job(job)
                hp_in = job.get("hyperparameters") or {}
                hp: dict[str, Any] = {}
                for src, dst in (("n_epochs", "epochs"), ("batch_size", "batch_size"),
                                 ("learning_rate_multiplier", "learning_rate_multiplier")):
                    v = hp_in.get(src)
                    if v is not None and v != "auto":
                        hp[dst] = v
                hp.update(job.get("_inward_hparams") or {})
                mult = hp.pop("learning_rate_multiplier", None)
                if mult is not None:  # OpenAI's multiplier scales the local learning rate
                    from inward.backends.lora import DEFAULT_HPARAMS
                    base_lr = hp.get("learning_rate", DEFAULT_HPARAMS["learning_rate"])
                    hp["learning_rate"] = float(base_lr) * float(mult)
                out = Path(job["_adapter"])
                finetune(self.bases[job["_root_base"]], self.data_dir / "files" / job[
                    "training_file"], out, hp, init_adapter=job.get("_init_adapter"),
                    seed=int(job.get("seed") or 0), threads=self.threads)
            ft_id = f"ft:{job['_root_base']}:{job_id}"
            with self.lock:
                job.update(status="succeeded", fine_tuned_model=ft_id,
                           finished_at=int(time.time()))
                self.ft[ft_id] = {"base": job["_root_base"], "adapter": str(out)}
                self._save_job(job)
            log.info("job %s succeeded: %s", job_id, ft_id)
        except Exception as e:
            log.exception("job %s failed", job_id)
            with self.lock:
                job.update(status="failed", finished_at=int(time.time()),
                           error={"code": "training_failed", "param": None,
                                  "message": f"{type(e).__name__}: {e}"})
                self._save_job(job)


def _err(status: int, message: str, etype: str = "invalid_request_error",
         code: str | None = None):
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content={"error": {
        "message": message, "type": etype, "param": None, "code": code}})


def _public_job(job: dict) -> dict:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _token_entry(token: str, logprob: float) -> dict:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def create_app(state: ServerState):
    from fastapi import FastAPI
    from starlette.concurrency import run_in_threadpool

    app = FastAPI(title="inward loopback OpenAI-compatible server")
    app.state.inward = state

    def auth_failed(request: Request) -> bool:
        if not state.require_key:
            return False
        return request.headers.get("authorization", "") != f"Bearer {state.require_key}"

    @app.get("/v1/models")
    async def list_models(request: Request):
        if auth_failed(request):
            state.log_request("GET", "/v1/models", None, None, 401)
            return _err(401, "Incorrect API key provided.", "invalid_request_error",
                        "invalid_api_key")
        state.log_request("GET", "/v1/models", None, None, 200)
        now = int(time.time())
        return {"object": "list", "data": [
            {"id": m, "object": "model", "created": now, "owned_by": "inward"}
            for m in state.model_ids()]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        path = "/v1/chat/completions"
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001
            state.log_request("POST", path, None, None, 400)
            return _err(400, "request body is not JSON")
        model, messages = body.get("model"), body.get("messages")
        if auth_failed(request):
            state.log_request("POST", path, model, messages, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        with state.lock:
            fail = state.fail_left > 0
            if fail:
                state.fail_left -= 1
        if fail:
            state.log_request("POST", path, model, messages, state.fail_status)
            return _err(state.fail_status, f"injected failure ({state.fail_status})",
                        "rate_limit_error" if state.fail_status == 429 else "server_error")
        if state.resolve(model or "") is None:
            state.log_request("POST", path, model, messages, 404)
            return _err(404, f"The model {model!r} does not exist; served: "
                             f"{state.model_ids()}", code="model_not_found")
        if not isinstance(messages, list) or not messages:
            state.log_request("POST", path, model, messages, 400)
            return _err(400, "'messages' must be a non-empty list")
        try:
            result = await run_in_threadpool(_complete, state, body)
        except Exception as e:
            log.exception("chat completion failed")
            state.log_request("POST", path, model, messages, 500)
            return _err(500, f"{type(e).__name__}: {e}", "server_error")
        state.log_request("POST", path, model, messages, 200)
        return result

    @app.post("/v1/files")
    async def upload(request: Request):
        path = "/v1/files"
        if auth_failed(request):
            state.log_request("POST", path, None, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        parts = _multipart(await request.body(), request.headers.get("content-type", ""))
        if "file" not in parts:
            state.log_request("POST", path, None, None, 400)
            return _err(400, "multipart field 'file' is required")
        purpose = parts.get("purpose", (None, b"fine-tune"))[1].decode()
        filename, data = parts["file"]
        fid = "file-" + secrets.token_hex(12)
        (state.data_dir / "files" / fid).write_bytes(data)
        meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename or "upload.jsonl", "purpose": purpose,
                "status": "processed", "status_details": None}
        (state.data_dir / "files" / f"{fid}.json").write_text(json.dumps(meta))
        state.log_request("POST", path, None, None, 200)
        return meta

    @app.get("/v1/files/{file_id}")
    async def get_file(file_id: str, request: Request):
        p = state.data_dir / "files" / f"{file_id}.json"
        if auth_failed(request):
            state.log_request("GET", "/v1/files", None, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        state.log_request("GET", "/v1/files", None, None, 200 if p.exists() else 404)
        if not p.exists() or "/" in file_id:
            return _err(404, f"No such File object: {file_id}")
        return json.loads(p.read_text())

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request):
        path = "/v1/fine_tuning/jobs"
        body = await request.json()
        model = body.get("model")
        if auth_failed(request):
            state.log_request("POST", path, model, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        resolved = state.resolve(model or "")
        if resolved is None:
            state.log_request("POST", path, model, None, 404)
            return _err(404, f"The model {model!r} does not exist; served: "
                             f"{state.model_ids()}", code="model_not_found")
        fid = str(body.get("training_file") or "")
        if "/" in fid or not (state.data_dir / "files" / fid).is_file():
            state.log_request("POST", path, model, None, 400)
            return _err(400, f"training_file {fid!r} not found (upload it to /v1/files)")
        root, init_adapter = resolved
        job_id = "ftjob-" + secrets.token_hex(12)
        hp = body.get("hyperparameters") or {}
        method = body.get("method") or {}
        if not hp and isinstance(method, dict):
            hp = ((method.get(method.get("type") or "supervised") or {})
                  .get("hyperparameters") or {})
        job = {"id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()),
               "model": model, "training_file": fid, "validation_file": None,
               "hyperparameters": {"n_epochs": hp.get("n_epochs", "auto"),
                                   "batch_size": hp.get("batch_size", "auto"),
                                   "learning_rate_multiplier":
                                       hp.get("learning_rate_multiplier", "auto")},
               "seed": int(body.get("seed") or 0), "status": "validating_files",
               "fine_tuned_model": None, "finished_at": None, "error": None,
               "organization_id": "org-inward", "result_files": [], "trained_tokens": None,
               "suffix": body.get("suffix"),
               "_root_base": root, "_init_adapter": init_adapter,
               "_adapter": str(state.data_dir / "jobs" / job_id / "adapter"),
               "_inward_hparams": body.get("inward_hparams") or {}}
        with state.lock:
            state.jobs[job_id] = job
            state._save_job(job)
        threading.Thread(target=state.run_job, args=(job_id,), daemon=True,
                         name=f"finetune-{job_id}").start()
        state.log_request("POST", path, model, None, 200)
        return _public_job(job)

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    async def get_job(job_id: str, request: Request):
        path = "/v1/fine_tuning/jobs/{id}"
        if auth_failed(request):
            state.log_request("GET", path, None, None, 401)
            return _err(401, "Incorrect API key provided.", code="invalid_api_key")
        with state.lock:
            job = state.jobs.get(job_id)
            out = _public_job(job) if job else None
        state.log_request("GET", path, out["model"] if out else None, None,
                          200 if out else 404)
        if out is None:
            return _err(404, f"No such fine-tuning job: {job_id}")
        return out

    return app


def _complete(state: ServerState, body: dict) -> dict:
    model = body["model"]
    messages = body["messages"]
    chats = [[{"role": m.get("role"), "content": m.get("content")} for m in messages]]
    temperature = float(body.get("temperature") if body.get("temperature") is not None else 1.0)
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 32
    n = int(body.get("n") or 1)
    seed = int(body.get("seed") or 0)
    want_lp = bool(body.get("logprobs")) and body.get("top_logprobs")
    be = state.backend(model)
    created = int(time.time())
    with state.compute:
        if want_lp:
            dist = be.answer_distribution(chats, k=int(body["top_logprobs"]))[0]
            items = sorted(dist.items(), key=lambda kv: -kv[1])
            top = [_token_entry(t, math.log(p) if p > 0 else -1e9) for t, p in items]
            best = top[0] if top else _token_entry("", 0.0)
            texts = [best["token"]] * n
            logprobs = {"content": [dict(best, top_logprobs=top)], "refusal": None}
        elif temperature == 0:
            answer = be.generate(chats, max_new_tokens=int(max_tokens), temperature=0.0,
                                 seed=seed)[0]
            texts, logprobs = [answer] * n, None
        else:
            texts = be.sample(chats, n, max_new_tokens=int(max_tokens), temperature=temperature,
                              seed=seed)[0]
            logprobs = None
    n_in, n_out = state.count_tokens(model, be, chats[0], texts)
    return {
        "id": "chatcmpl-" + secrets.token_hex(12), "object": "chat.completion",
        "created": created, "model": model, "system_fingerprint": "inward-local",
        "choices": [{"index": i, "finish_reason": "stop", "logprobs": logprobs,
                     "message": {"role": "assistant", "content": t, "refusal": None}}
                    for i, t in enumerate(texts)],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                  "total_tokens": n_in + n_out},
    }


def serve(models: dict[str, dict], host: str = "127.0.0.1", port: int = 8000,
          log_requests: str | Path | None = None, data_dir: str | Path | None = None,
          require_key: str | None = None, fail_first: int = 0, fail_status: int = 429,
          threads: int | None = None, preload: bool = False, parallel: int = 1) -> None:
    import uvicorn

    if data_dir is None:
        from inward.backends.response_cache import cache_dir
        data_dir = cache_dir() / "serve"
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    state = ServerState(models, Path(data_dir), Path(log_requests) if log_requests else None,
                        require_key, fail_first, fail_status, threads, parallel=parallel)
    if preload:
        for name in models:
            state.backend(name)
    log.info("serving %s on http://%s:%d/v1 (data %s)", state.model_ids(), host, port,
             state.data_dir)
    uvicorn.run(create_app(state), host=host, port=port, log_level="warning")


class LoopbackServer:
    """Run ``python -m inward.serve.cli`` in a subprocess on a free loopback port (tests, studies).

        with LoopbackServer({"smol": "embedded:smollm2-135m"}, log_requests=path) as srv:
            os.environ["OPENAI_BASE_URL"] = srv.base_url
    """

    def __init__(self, models: dict[str, str], log_requests: str | Path | None = None,
                 data_dir: str | Path | None = None, extra_args: list[str] | None = None,
                 port: int | None = None, env: dict | None = None, startup_timeout: float = 600,
                 stderr_path: str | Path | None = None):
        self.models = models
        self.log_path = Path(log_requests) if log_requests else None
        self.data_dir = data_dir
        self.extra_args = list(extra_args or [])
        self.port = port or free_port()
        self.env = env
        self.startup_timeout = startup_timeout
        self.stderr_path = stderr_path
        self.proc = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LoopbackServer:
        import subprocess
        import sys
        import urllib.request

        cmd = [sys.executable, "-m", "inward.serve.cli", "--host", "127.0.0.1",
               "--port", str(self.port)]
        for name, source in self.models.items():
            cmd += ["--model", f"{name}={source}"]
        if self.log_path:
            cmd += ["--log-requests", str(self.log_path)]
        if self.data_dir:
            cmd += ["--data-dir", str(self.data_dir)]
        cmd += self.extra_args
        if self.stderr_path:
            with open(self.stderr_path, "ab") as err:  # the child keeps its own descriptor
                self.proc = subprocess.Popen(cmd, env={**os.environ, **(self.env or {})},
                                             stdout=err, stderr=err)
        else:
            self.proc = subprocess.Popen(cmd, env={**os.environ, **(self.env or {})},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + self.startup_timeout
        headers = {}
        if "--require-key" in self.extra_args:
            key = self.extra_args[self.extra_args.index("--require-key") + 1]
            headers["Authorization"] = f"Bearer {key}"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"inward.serve.cli exited with {self.proc.returncode}: {cmd}")
            try:
                req = urllib.request.Request(self.base_url + "/models", headers=headers)
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"inward.serve.app did not answer on {self.base_url} in "
                           f"{self.startup_timeout}s")

    def requests(self) -> list[dict]:
        """The request log so far (one dict per request)."""
        if not self.log_path or not self.log_path.exists():
            return []
        return [json.loads(x) for x in self.log_path.read_text().splitlines() if x.strip()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
