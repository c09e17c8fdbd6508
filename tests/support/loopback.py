"""The loopback OpenAI-compatible server (``inward serve``) as the hosted-backend and serve tests
use it: session fixtures, a hosted model config pointing at it, request logs."""

from __future__ import annotations

import pytest

from inward.config.types import ModelConfig
from inward.serve import LoopbackServer, messages_hash

PROMPTS = ["What is 2+2? Answer with a number.",
           "Name a colour of the sky. Answer with one word.",
           ("Is the following statement true or false? Water is wet. Answer A for true or B "
            "for false."),
           "Say the first letter of the alphabet."]
SOURCE = "embedded:smollm2-135m"
URL_ENV, KEY_ENV = "INWARD_TEST_BASE_URL", "INWARD_TEST_API_KEY"
CHAT = "/v1/chat/completions"


def chat(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def model_cfg(base_url: str, tmp_path, monkeypatch, key: str = "sk-test", **kw) -> ModelConfig:
    """A hosted model on ``base_url`` (through the environment, as a study gets it), with short
    retries; ``kw`` adds or replaces entry keys."""
    monkeypatch.setenv(URL_ENV, base_url)
    monkeypatch.setenv(KEY_ENV, key)
    return ModelConfig.from_params({
        "backend": "openai", "model": "smol", "base_url_env": URL_ENV, "api_key_env": KEY_ENV,
        "cache_dir": str(tmp_path / "cache"), "concurrency": 2, "max_retries": 4,
        "retry_base_delay": 0.01, "retry_max_delay": 0.05, "poll_interval": 0.5,
        "price_per_1k_input": 0.005, "price_per_1k_output": 0.015, **kw})


def chat_log(srv: LoopbackServer, chats=None) -> list[dict]:
    recs = [r for r in srv.requests() if r["path"] == CHAT]
    if chats is not None:
        hashes = {messages_hash(c) for c in chats}
        recs = [r for r in recs if r["messages_hash"] in hashes]
    return recs


def loopback(tmp_path_factory, name: str, extra_args: list[str],
             models: dict[str, str] | None = None) -> LoopbackServer:
    """A server in its own folder (request log, data, stderr), serving SmolLM2 as ``smol``
    unless ``models`` says otherwise; enter it to start it."""
    d = tmp_path_factory.mktemp(name)
    return LoopbackServer(models or {"smol": SOURCE}, log_requests=d / "requests.jsonl",
                          data_dir=d / "data", extra_args=extra_args,
                          stderr_path=d / "server.log")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Two models (same weights) served by one server, as a study with two models would use;
    two requests compute at a time, one torch thread each."""
    with loopback(tmp_path_factory, "server", ["--threads", "1", "--parallel", "2"],
                  {"smol": SOURCE, "smol2": SOURCE}) as srv:
        yield srv


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory):
    """A lazily loading server that wants ``Authorization: Bearer right-key``."""
    with loopback(tmp_path_factory, "auth_server",
                  ["--lazy", "--require-key", "right-key"]) as srv:
        yield srv


@pytest.fixture(scope="session")
def varying_server(tmp_path_factory):
    """A lazily loading server whose first greedy request for n > 1 answers gets n different
    ones (``--vary-first 1``): a hosted model that is not deterministic at temperature 0."""
    with loopback(tmp_path_factory, "varying_server", ["--lazy", "--vary-first", "1"]) as srv:
        yield srv


@pytest.fixture(scope="session")
def throttling_server(tmp_path_factory):
    """A lazily loading server whose first chat request is refused with 429 and
    ``Retry-After: 2`` (``--fail-first 1 --fail-retry-after 2``)."""
    with loopback(tmp_path_factory, "throttling_server",
                  ["--lazy", "--fail-first", "1", "--fail-retry-after", "2"]) as srv:
        yield srv
