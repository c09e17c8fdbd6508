"""The tiny study with both models behind the served backend: answers, samples and first-token
distributions come from ``inward serve`` on loopback (as they would from vLLM), finetunes run
here with peft, and each adapter is loaded into the server by name (/v1/load_lora_adapter)
before its answers are asked for. Its adapters are the local run's, byte for byte, and its
answers and metrics are the local run's up to float near-ties (tests/support/study_compare.py).
"""

from __future__ import annotations

import pytest
import yaml

from e2e_support import ENV, TINY, new_study_repo, sh, tiny_branches
from inward.backends.served import adapter_name
from inward.serve import LoopbackServer
from inward.study import layout
from study_compare import assert_matches_first_study

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_served_backend_study_matches_the_local_backend(tiny_study, tmp_path):
    params = yaml.safe_load(TINY.read_text())
    sources = {name: cfg["source"] for name, cfg in params["models"].items()}
    # no api_key_env: a server of one's own needs no key
    params["models"] = {name: {"backend": "served", "model": name, "source": source,
                               "base_url_env": "INWARD_LOOPBACK_URL", "concurrency": 2,
                               "cache_dir": str(tmp_path / "cache")}
                        for name, source in sources.items()}
    repo = new_study_repo(tmp_path / "repo", params)
    # one torch thread per request and per finetune, as each local job gets with --cores 2
    with LoopbackServer(sources, log_requests=tmp_path / "requests.jsonl",
                        data_dir=tmp_path / "serve",
                        extra_args=["--threads", "1", "--parallel", "2"],
                        stderr_path=tmp_path / "server.log") as server:
        env = {**ENV, "INWARD_LOOPBACK_URL": server.base_url}
        env.pop("OPENAI_API_KEY", None)
        sh("snakemake --cores 2", repo, env=env)
        requests = server.requests()

    # the finetunes ran here, as the local backend's: the same adapter bytes
    scaled = tiny_branches(list(sources))[2]  # the tiny config's cross.scaling finetunes
    agents = [a.name for a in layout.finetuned_agents(list(sources))] + scaled
    assert len(agents) == 6 + len(scaled)
    first = tiny_study.parent / "adapters_first"
    for agent in agents:
        for f in ("adapter_model.safetensors", "adapter_config.json", "train_log.csv"):
            assert (repo / "results/adapters" / agent / f).read_bytes() == \
                (first / agent / f).read_bytes(), (agent, f)
    # each adapter was loaded into the server under its agent's name before it answered
    # (later jobs of the same agent find it loaded: 400 "already loaded"), and none was trained
    # there
    loads = [r for r in requests if r["path"] == "/v1/load_lora_adapter"]
    loaded = {r["model"] for r in loads if r["status"] == 200}
    assert loaded == {adapter_name(repo / "results/adapters" / a) for a in agents}
    assert {r["status"] for r in loads} <= {200, 400}
    for agent in agents:
        name = adapter_name(repo / "results/adapters" / agent)
        chats = [i for i, r in enumerate(requests)
                 if r["path"] == "/v1/chat/completions" and r["model"] == name]
        first_load = min(i for i, r in enumerate(requests) if r in loads and r["model"] == name)
        assert chats and first_load < min(chats), agent
    assert not any(r["path"].startswith("/v1/fine_tuning") for r in requests)
    # every greedy answer and metric is the local run's, up to float near-ties
    assert_matches_first_study(tiny_study, repo)
