"""One chat completion: the local backend call a request asks for, in OpenAI's response shape.

temperature 0 and n 1 -> ``generate``; n > 1 or temperature > 0 -> ``sample``; ``logprobs`` +
``top_logprobs`` -> ``answer_distribution`` (first-token ``top_logprobs``); ``usage``."""

from __future__ import annotations

import math
import secrets
import threading
import time

from inward.serve.models import ServedModels


def _token_entry(token: str, logprob: float) -> dict:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def complete(models: ServedModels, compute: threading.BoundedSemaphore, body: dict,
             vary: bool = False) -> dict:
    """The ``chat.completion`` object answering ``body``; the model call holds ``compute``.
    ``vary`` (fault injection, ``--vary-first``) makes n greedy answers differ: each is
    prefixed by its index."""
    model = body["model"]
    messages = body["messages"]
    chats = [[{"role": m.get("role"), "content": m.get("content")} for m in messages]]
    temperature = float(body.get("temperature") if body.get("temperature") is not None else 1.0)
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 32
    n = int(body.get("n") or 1)
    seed = int(body.get("seed") or 0)
    want_lp = bool(body.get("logprobs")) and body.get("top_logprobs")
    be = models.backend(model)
    created = int(time.time())
    with compute:
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
            if vary:
                texts = [f"{i}:{answer}" for i in range(n)]
        else:
            texts = be.sample(chats, n, max_new_tokens=int(max_tokens), temperature=temperature,
                              seed=seed)[0]
            logprobs = None
    n_in, n_out = models.count_tokens(model, be, chats[0], texts)
    return {
        "id": "chatcmpl-" + secrets.token_hex(12), "object": "chat.completion",
        "created": created, "model": model, "system_fingerprint": "inward-local",
        "choices": [{"index": i, "finish_reason": "stop", "logprobs": logprobs,
                     "message": {"role": "assistant", "content": t, "refusal": None}}
                    for i, t in enumerate(texts)],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                  "total_tokens": n_in + n_out},
    }
