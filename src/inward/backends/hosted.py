"""The hosted backend: models behind an OpenAI-compatible API, answering and finetuned there.

``OpenAIBackend`` implements the Backend protocol of docs/ARCHITECTURE.md (generate / sample /
answer_distribution) over chat completions with the official ``openai`` client, with bounded
concurrency, retries (exponential backoff + jitter) on 429/5xx/timeouts/connection errors, a
persistent response cache (``inward.backends.response_cache``) and token/cost accounting
(``inward.backends.accounting``).

``finetune_openai`` runs a hosted finetuning job (upload, create, poll) and is resumable: the job
id is stored in the cache directory, keyed by (base model, training bytes, hparams, seed), as
soon as the job exists.

The model config's hosted fields (:class:`inward.config.types.ModelConfig`: ``model``, the
endpoint's ``base_url_env`` / ``base_url`` / ``api_key_env``, ``concurrency``, ``mode_of_n``,
retries, ``cache``, prices, ``poll_interval``, ...) say how; their defaults are there.
"""

from __future__ import annotations

import collections
import datetime
import email.utils
import hashlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inward.backends.accounting import Accountant
from inward.backends.response_cache import cache_dir, cache_key, open_cache
from inward.config.types import LoraHparams, ModelConfig, plain

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
STANDARD_HPARAMS = {"epochs": "n_epochs", "learning_rate_multiplier": "learning_rate_multiplier",
                    "batch_size": "batch_size"}
TERMINAL = {"succeeded", "failed", "cancelled"}


class OpenAIBackendError(RuntimeError):
    """A hosted call failed in a way retrying will not fix (or retries ran out)."""


class MissingAPIKeyError(OpenAIBackendError):
    """The API key environment variable named in the model config is not set."""


class FinetuneError(OpenAIBackendError):
    """A hosted finetuning job failed or was cancelled."""


# ---------------------------------------------------------------------------------------------
# client construction and retries


def resolve_endpoint(cfg: ModelConfig, key_required: bool = True) -> tuple[str, str]:
    """(api_key, base_url) from the environment; raises before any request. A server of one's
    own (vLLM) may want no key: without ``key_required`` an unset variable sends ``EMPTY``."""
    key_env = cfg.api_key_env
    base_url = os.environ.get(cfg.base_url_env) or cfg.base_url or DEFAULT_BASE_URL
    key = os.environ.get(key_env) or (None if key_required else "EMPTY")
    if not key:
        raise MissingAPIKeyError(
            f"model {cfg.model!r}: the API key environment variable {key_env!r} is "
            f"not set (base_url {base_url}). Export {key_env}=... (the model config's "
            f"'api_key_env' names the variable; put the key itself only in the environment)."
        )
    return key, base_url.rstrip("/")


def make_client(cfg: ModelConfig, key_required: bool = True):
    """An openai client for ``cfg``'s endpoint (retries are :class:`Retrier`'s), and its URL."""
    import openai

    key, base_url = resolve_endpoint(cfg, key_required)
    client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0,
                           timeout=float(cfg.timeout))
    return client, base_url


def _is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def _hint(e: Exception, key_env: str) -> str:
    """What a request refused for good (401, 403, 404) means, and what to check."""
    import openai

    if isinstance(e, openai.AuthenticationError):
        return (f"refused ({_describe(e)}). Check the API key in ${key_env} and the base URL.")
    if isinstance(e, openai.PermissionDeniedError):
        return (f"permission denied ({_describe(e)}). Check that the key in ${key_env} may use "
                "this model.")
    return (f"not found ({_describe(e)}). Check the model id and the base URL (it usually ends "
            "in /v1).")


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    msg = getattr(exc, "message", None) or str(exc)
    return f"HTTP {status}: {msg}" if status else f"{type(exc).__name__}: {msg}"


class Retrier:
    """Calls a function with retries: exponential backoff with full jitter on transient errors,
    an immediate clear error on 401/403/404/400."""

    def __init__(self, cfg: ModelConfig, model: str, base_url: str, *,
                 sleep: Callable[[float], None] = time.sleep, accountant: Accountant | None = None):
        self.model, self.base_url = model, base_url
        self.key_env, self.url_env = cfg.api_key_env, cfg.base_url_env
        self.max_retries = int(cfg.max_retries)
        self.base_delay, self.max_delay = float(cfg.retry_base_delay), float(cfg.retry_max_delay)
        self.sleep = sleep
        self.acct = accountant
        self._rng = random.Random()

    def delay(self, attempt: int) -> float:
        d = min(self.max_delay, self.base_delay * (2 ** attempt))
        return d * (0.5 + 0.5 * self._rng.random())

    def __call__(self, fn: Callable[[], Any], what: str = "request") -> Any:
        import openai

        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except (openai.AuthenticationError, openai.PermissionDeniedError,
                    openai.NotFoundError) as e:
                self._count(errors=1)
                raise OpenAIBackendError(
                    f"{what} for model {self.model!r} at {self.base_url}: {_hint(e, self.key_env)}"
                ) from e
            except Exception as e:
                if not _is_retryable(e):
                    self._count(errors=1)
                    raise OpenAIBackendError(
                        f"{what} for model {self.model!r} at {self.base_url} failed: "
                        f"{_describe(e)}"
                    ) from e
                if attempt >= self.max_retries:
                    self._count(errors=1)
                    raise OpenAIBackendError(
                        f"{what} for model {self.model!r} at {self.base_url} still failing after "
                        f"{attempt + 1} attempts ({_describe(e)}). Check that the server is "
                        f"reachable (base URL from ${self.url_env}), the rate limits, and the "
                        f"provider's status."
                    ) from e
                # the server's own wait (Retry-After, retry-after-ms) when it names one
                d = max(self.delay(attempt), server_wait(e) or 0.0)
                self._count(retries=1)
                log.warning("%s for %s: %s; retry %d/%d in %.2fs", what, self.model,
                            _describe(e), attempt + 1, self.max_retries, d)
                self.sleep(d)
        raise AssertionError("unreachable")

    def _count(self, **kw) -> None:
        if self.acct is not None:
            self.acct.add(**kw)


SERVER_WAIT_MAX = 600.0
"""Longest wait a server's Retry-After may ask for (seconds): beyond it, a bogus value."""


def server_wait(error: Exception) -> float | None:
    """Seconds the server asked to wait before a retry: ``retry-after-ms`` (OpenAI's), else
    ``Retry-After`` (seconds or an HTTP date); None when it named none (or a bogus value)."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    wait = None
    try:
        if headers.get("retry-after-ms") is not None:
            wait = float(headers["retry-after-ms"]) / 1000
        elif headers.get("retry-after") is not None:
            value = headers["retry-after"]
            try:
                wait = float(value)
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                # a date already past: retry now
                wait = max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
    return wait if wait is not None and 0 <= wait <= SERVER_WAIT_MAX else None


# ---------------------------------------------------------------------------------------------
# answers


def first_line(text: str | None) -> str:
    """Single-line answer: the first non-blank line (same rule as the local backend)."""
    for line in (text or "").split("\n"):
        if line.strip():
            return line.rstrip("\r")
    return ""


MODE_PREFIX_CHARS = 40
"""Answers are compared on their first 40 characters when their mode is taken (the official
``MAX_RESPONSE_LEN_FOR_MODE``: long answers are likely to differ late)."""


def mode_answer(answers: list[str]) -> str | None:
    """The paper's mode of n answers (``evals/utils.py::collate_mode_of_n`` of the official
    code): answers are compared on their first ``MODE_PREFIX_CHARS`` characters; when more
    than one answer was given and all differ there is no mode (None: the row is dropped);
    among prefixes tied for most common the smallest wins (pandas' ``mode()[0]``); the answer
    returned is the first whole answer with the modal prefix."""
    if not answers:
        return ""
    prefixes = [a[:MODE_PREFIX_CHARS] for a in answers]
    counts = collections.Counter(prefixes)
    if len(answers) > 1 and len(counts) == len(answers):
        return None
    best = max(counts.values())
    modal = min(p for p, c in counts.items() if c == best)
    return answers[prefixes.index(modal)]


def distribution_from_top_logprobs(top: list[tuple[str, float]]) -> dict[str, float]:
    """{stripped token text: prob}, equal texts merged, renormalised to sum to 1."""
    dist: dict[str, float] = {}
    for token, logprob in top:
        key = (token or "").strip()
        dist[key] = dist.get(key, 0.0) + math.exp(logprob)
    total = sum(dist.values())
    if total <= 0:
        return {}
    return {k: v / total for k, v in sorted(dist.items(), key=lambda kv: -kv[1])}


def _read_finetuned_id(adapter: str | Path) -> str:
    p = Path(adapter)
    if p.is_dir():
        p = p / "finetuned_model.json"
    try:
        return json.loads(p.read_text())["model"]
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise OpenAIBackendError(
            f"cannot read the finetuned model id from {p} (expected JSON with a 'model' key, "
            f"as written by finetune_openai)") from e


@dataclass(frozen=True)
class RequestSettings:
    """What a chat-completion request asks for besides the model and the messages."""

    kind: str
    """generate, mode_of_n (n answers at temperature 0, the answer is their mode), sample or
    distribution (the first answer token's top ``k`` log-probabilities)."""
    max_tokens: int
    temperature: float
    n: int = 1
    """Answers per request (not for a distribution)."""
    seed: int = 0
    """The request's seed (a distribution always asks with seed 0)."""
    k: int = 0
    """Top log-probabilities asked for (a distribution only)."""

    def key_parts(self) -> dict[str, Any]:
        """The settings as hashed into the response-cache key: a distribution's without n and
        seed, the others' without k. Every cached answer is filed under this form, so it must
        not change."""
        unused = ("n", "seed") if self.kind == "distribution" else ("k",)
        return {name: v for name, v in asdict(self).items() if name not in unused}


class OpenAIBackend:
    """Backend protocol over an OpenAI-compatible chat completions endpoint."""

    key_required = True
    """Whether the API key variable must be set (a subclass for keyless servers says no)."""

    def __init__(self, cfg: ModelConfig, adapter: str | Path | None = None,
                 threads: int | None = None, *, sleep: Callable[[float], None] = time.sleep):
        if not cfg.model:
            raise ValueError(f"{cfg.backend} model config needs a 'model' (the served model id)")
        self.cfg = cfg
        self.sleep = sleep
        self.client, self.base_url = make_client(cfg, self.key_required)
        self.model = self.model_for(adapter) if adapter else cfg.model
        self.name = cfg.name or self.model
        self.concurrency = max(1, cfg.concurrency)
        self.mode_of_n = max(1, cfg.mode_of_n)
        # newer hosted models want max_completion_tokens instead of max_tokens
        self.max_tokens_param = cfg.max_tokens_param
        self.acct = Accountant(cfg, self.model)
        self.retry = Retrier(cfg, self.model, self.base_url, sleep=sleep, accountant=self.acct)
        self.cache = open_cache(cfg) if cfg.cache else None

    def model_for(self, adapter: str | Path) -> str:
        """The model id that answers for ``adapter``: the finetuned model a hosted job made."""
        return _read_finetuned_id(adapter)

    @staticmethod
    def finetune(cfg: ModelConfig, train_jsonl, out_dir, hparams: LoraHparams,
                 init_adapter=None, seed: int = 0, threads: int | None = None,
                 val_jsonl=None) -> dict:
        """A hosted finetune (:func:`finetune_openai`) -> out_dir/finetuned_model.json; the
        provider keeps its own loss curves, so ``val_jsonl`` is not uploaded."""
        return finetune_openai(cfg, train_jsonl, out_dir, hparams, init_adapter=init_adapter,
                               seed=seed, threads=threads)

    # -- protocol ------------------------------------------------------------------------------
    def generate(self, chats: list[list[dict]], max_new_tokens: int = 32,
                 temperature: float = 0.0, seed: int = 0,
                 progress: bool = False) -> list[str | None]:
        """One answer per chat. With ``mode_of_n`` > 1 a greedy answer is the paper's mode of
        n answers at temperature 0 (``mode_answer``; hosted models are not deterministic at
        temperature 0): None where all n differ, a row the study drops and counts
        (``mode_of_n_dropped`` in the usage record)."""
        if self.mode_of_n > 1 and temperature == 0:
            settings = RequestSettings("mode_of_n", max_tokens=max_new_tokens, temperature=0.0,
                                       n=self.mode_of_n, seed=seed)
            outs = self._batch(chats, settings, "generate", progress)
            modes = [mode_answer(o["answers"]) for o in outs]
            self.acct.add(mode_of_n_dropped=sum(m is None for m in modes))
            return modes
        settings = RequestSettings("generate", max_tokens=max_new_tokens,
                                   temperature=float(temperature), seed=seed)
        return [o["answers"][0] for o in self._batch(chats, settings, "generate", progress)]

    def sample(self, chats: list[list[dict]], n: int, max_new_tokens: int = 32,
               temperature: float = 1.0, seed: int = 0, progress: bool = False
               ) -> list[list[str]]:
        settings = RequestSettings("sample", max_tokens=max_new_tokens,
                                   temperature=float(temperature), n=int(n), seed=seed)
        return [o["answers"] for o in self._batch(chats, settings, "sample", progress)]

    def answer_distribution(self, chats: list[list[dict]], k: int = 5,
                            progress: bool = False) -> list[dict[str, float]]:
        settings = RequestSettings("distribution", max_tokens=1, temperature=0.0, k=int(k))
        return [o["dist"] for o in self._batch(chats, settings, "answer_distribution", progress)]

    # -- accounting ----------------------------------------------------------------------------
    def stats(self) -> dict:
        """Cumulative requests, retries, tokens, cache hits/misses and cost (plus last batch)."""
        out = self.acct.stats()
        out["base_url"] = self.base_url
        return out

    def reset_stats(self) -> None:
        self.acct.reset()

    # -- internals -----------------------------------------------------------------------------
    def _key(self, chat: list[dict], settings: RequestSettings) -> str:
        return cache_key(model=self.model, base_url=self.base_url, messages=chat,
                         **settings.key_parts())

    def _request(self, chat: list[dict], settings: RequestSettings) -> dict:
        kind = settings.kind
        kw: dict[str, Any] = {"model": self.model, "messages": chat,
                              self.max_tokens_param: settings.max_tokens,
                              "temperature": settings.temperature}
        if kind == "distribution":
            kw.update(logprobs=True, top_logprobs=settings.k, seed=0)
        else:
            kw["seed"] = settings.seed
            if settings.n != 1:
                kw["n"] = settings.n
        resp = self.retry(lambda: self.client.chat.completions.create(**kw),
                          what=f"chat completion ({kind})")
        self.acct.add(requests=1)
        self.acct.add_usage(getattr(resp, "usage", None))
        usage = resp.usage.model_dump() if getattr(resp, "usage", None) is not None else None
        if kind == "distribution":
            choice = resp.choices[0]
            content = getattr(getattr(choice, "logprobs", None), "content", None) or []
            if not content:
                raise OpenAIBackendError(
                    f"model {self.model!r} at {self.base_url} returned no logprobs; does the "
                    f"endpoint support logprobs/top_logprobs?")
            top = [(t.token, t.logprob) for t in (content[0].top_logprobs or [])]
            if not top:
                top = [(content[0].token, content[0].logprob)]
            return {"dist": distribution_from_top_logprobs(top), "usage": usage}
        answers = [first_line(c.message.content) for c in
                   sorted(resp.choices, key=lambda c: c.index)]
        return {"answers": answers, "usage": usage}

    def _one(self, chat: list[dict], settings: RequestSettings, key: str) -> dict:
        out = self._request(chat, settings)
        if self.cache is not None:
            self.cache.put(key, out)  # committed now: a killed run never pays twice
        return out

    def _batch(self, chats: list[list[dict]], settings: RequestSettings, what: str,
               progress: bool) -> list[dict]:
        self.acct.start_batch()
        results: list[dict | None] = [None] * len(chats)
        todo: dict[str, list[int]] = {}
        for i, chat in enumerate(chats):
            key = self._key(chat, settings)
            if key in todo:  # identical request in this batch: ask once
                todo[key].append(i)
                continue
            hit = self.cache.get(key, count=False) if self.cache is not None else None
            if hit is not None:
                results[i] = hit
                self.acct.add(cache_hits=1)
            else:
                todo[key] = [i]
        self.acct.add(cache_misses=len(todo))
        if todo:
            bar = None
            if progress:
                from tqdm.auto import tqdm
                bar = tqdm(total=len(todo), desc=f"{self.name} {what}")
            pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo)))
            try:
                futs = {pool.submit(self._one, chats[idx[0]], settings, key): key
                        for key, idx in todo.items()}
                for fut in as_completed(futs):
                    out = fut.result()
                    for i in todo[futs[fut]]:
                        results[i] = out
                    if bar is not None:
                        bar.update(1)
            except BaseException:
                # Ctrl-C / an error: drop queued requests, let in-flight ones finish and be cached
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            finally:
                pool.shutdown(wait=True)
                if bar is not None:
                    bar.close()
        b = self.acct.end_batch()
        log.info("%s %s: %d chats, %d requests, %d retries, %d cache hits, %d misses, "
                 "%d+%d tokens, $%.4f", self.name, what, len(chats), b["requests"], b["retries"],
                 b["cache_hits"], b["cache_misses"], b["prompt_tokens"], b["completion_tokens"],
                 b["cost_usd"])
        return results  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# hosted finetuning


def _is_loopback(base_url: str) -> bool:
    return "api.openai.com" not in base_url


def _job_state_path(cfg: ModelConfig, base: str, base_url: str, data: bytes,
                    hparams: LoraHparams, seed: int) -> Path:
    # the values as written, not the filled-in fields: a default added to LoraHparams later
    # must not change the key of a job that already ran (a re-run resumes it)
    key = cache_key(base=base, base_url=base_url,
                    train_sha256=hashlib.sha256(data).hexdigest(),
                    hparams=plain(hparams.written), seed=seed)
    return cache_dir(cfg) / "finetune_jobs" / f"{key}.json"


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def hosted_training_bytes(train_jsonl) -> bytes:
    """The training file as a hosted finetune takes it. OpenAI's format allows only the assistant
    weights 0 and 1, so an example whose answer has a larger weight w (``sft.replay_weight``)
    is sent round(w) times with weight 1; a file with only 0/1 weights goes byte for byte."""
    raw = Path(train_jsonl).read_bytes()
    try:
        lines = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        binary = all(m.get("weight", 1) in (0, 1) for ex in lines for m in ex["messages"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return raw  # not chat JSONL: the provider's validation reports it, as for any bad file
    if binary:
        return raw
    out = []
    for ex in lines:
        ws = [m["weight"] for m in ex["messages"] if m.get("weight", 1) not in (0, 1)]
        copies = max(round(max(ws)), 0) if ws else 1
        unweighted = {**ex, "messages": [
            {**m, "weight": 1} if m.get("weight", 1) not in (0, 1) else m
            for m in ex["messages"]]}
        out += [json.dumps(unweighted, ensure_ascii=False)] * copies
    return ("\n".join(out) + "\n").encode("utf-8")


def finetune_openai(cfg: ModelConfig, train_jsonl, out_dir, hparams: LoraHparams,
                    init_adapter=None, seed: int = 0, threads: int | None = None, *,
                    sleep: Callable[[float], None] = time.sleep,
                    poll_interval: float | None = None) -> dict:
    """Hosted finetune of ``cfg.model`` (or of the finetuned model recorded in
    ``init_adapter/finetuned_model.json``) on a chat JSONL; writes and returns
    ``out_dir/finetuned_model.json`` = {"model", "job", "base", ...}.

    Resumable: the job id is stored (cache dir, keyed by base model, training bytes, hparams and
    seed) as soon as the job exists; re-running polls that job instead of starting a new one.
    A failed or cancelled job raises :class:`FinetuneError` with the job's error message.
    """
    # only the values written are sent: the provider's own defaults fill in the rest
    written = plain(hparams.written)
    out_dir = Path(out_dir)
    base = _read_finetuned_id(init_adapter) if init_adapter else cfg.model
    client, base_url = make_client(cfg)
    retry = Retrier(cfg, base, base_url, sleep=sleep)
    interval = float(poll_interval if poll_interval is not None else cfg.poll_interval)
    data = hosted_training_bytes(train_jsonl)
    state_path = _job_state_path(cfg, base, base_url, data, hparams, seed)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}

    job = None
    if state.get("job"):
        job = retry(lambda: client.fine_tuning.jobs.retrieve(state["job"]), "retrieve job")
        if job.status in ("failed", "cancelled"):
            log.warning("stored finetuning job %s is %s; starting a new one", job.id, job.status)
            state.pop("job")
            job = None
        else:
            log.info("resuming finetuning job %s (%s) from %s", job.id, job.status, state_path)
    if job is None:
        if not state.get("file"):
            f = retry(lambda: client.files.create(
                file=(Path(train_jsonl).name, data, "application/jsonl"), purpose="fine-tune"),
                "upload training file")
            state["file"] = f.id
            _write_json(state_path, state)
        hp = {STANDARD_HPARAMS[k]: written[k] for k in STANDARD_HPARAMS if k in written}
        extra = {k: v for k, v in written.items() if k not in STANDARD_HPARAMS}
        kw: dict[str, Any] = {"model": base, "training_file": state["file"], "seed": seed}
        if hp:
            kw["hyperparameters"] = hp
        if cfg.suffix:
            kw["suffix"] = cfg.suffix
        send_extra = (cfg.send_extra_hparams if cfg.send_extra_hparams is not None
                      else _is_loopback(base_url))
        if extra and send_extra:
            kw["extra_body"] = {"inward_hparams": extra}
        job = retry(lambda: client.fine_tuning.jobs.create(**kw), "create finetuning job")
        state.update(job=job.id, base=base, created=time.time())
        _write_json(state_path, state)  # before polling: a re-run resumes this job
        log.info("created finetuning job %s on %s (state %s)", job.id, base, state_path)

    last = None
    t0 = time.time()
    while job.status not in TERMINAL:
        if job.status != last:
            log.info("finetuning job %s: %s (%.0fs)", job.id, job.status, time.time() - t0)
            last = job.status
        sleep(interval)
        job = retry(lambda jid=job.id: client.fine_tuning.jobs.retrieve(jid), "retrieve job")
    log.info("finetuning job %s: %s after %.0fs", job.id, job.status, time.time() - t0)
    if job.status != "succeeded":
        err = getattr(job, "error", None)
        msg = (getattr(err, "message", None) if err is not None else None) or "no error message"
        raise FinetuneError(f"finetuning job {job.id} on {base!r} at {base_url} {job.status}: "
                            f"{msg}")
    result = {"model": job.fine_tuned_model, "job": job.id, "base": base,
              "base_model": cfg.model, "training_file": state["file"],
              "hparams": written, "seed": seed}
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "finetuned_model.json", result)
    return result
