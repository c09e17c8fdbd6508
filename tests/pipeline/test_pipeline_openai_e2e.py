"""The tiny study with both models behind the openai backend, served by ``inward serve`` on
loopback (generation, log-probabilities, sampling and hosted finetuning all go over HTTP), gives
the same answers and metrics as the local backend on the same config.

How answers and metrics are compared, and why float near-ties may part a few answers:
tests/support/study_compare.py.
"""

from __future__ import annotations

import json

import pytest
import yaml

from e2e_support import ENV, TINY, new_study_repo, sh
from inward.serve import LoopbackServer
from inward.study import layout
from study_compare import assert_matches_first_study

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_openai_backend_study_matches_the_local_backend(tiny_study, tmp_path):
    params = yaml.safe_load(TINY.read_text())
    sources = {name: cfg["source"] for name, cfg in params["models"].items()}
    params["models"] = {name: {"backend": "openai", "model": name,
                               "base_url_env": "INWARD_LOOPBACK_URL",
                               "api_key_env": "INWARD_LOOPBACK_KEY", "concurrency": 2,
                               "cache_dir": str(tmp_path / "cache")}
                        for name in sources}
    repo = new_study_repo(tmp_path / "repo", params)
    # one torch thread per request, as each local job gets with --cores 2: the same float
    # sums; two requests at a time keep both cores busy
    with LoopbackServer(sources, log_requests=tmp_path / "requests.jsonl",
                        data_dir=tmp_path / "serve",
                        extra_args=["--threads", "1", "--parallel", "2"],
                        stderr_path=tmp_path / "server.log") as server:
        env = {**ENV, "INWARD_LOOPBACK_URL": server.base_url, "INWARD_LOOPBACK_KEY": "local"}
        sh("snakemake --cores 2", repo, env=env)
        requests = server.requests()
    # every greedy answer and metric is the local run's, up to float near-ties
    assert_matches_first_study(tiny_study, repo)
    # it really went over HTTP: every finetune of the study (self, cross, shift and the
    # cross-scaling branch's) was a hosted job, and the adapters are model ids
    models = list(params["models"])
    finetunes = (layout.finetuned_agents(models)
                 + layout.scaled_cross_agents(models, params["cross"]["scaling"]))
    assert sum(r["path"] == "/v1/fine_tuning/jobs" and r.get("method") == "POST"
               for r in requests) == len(finetunes) == 8
    ft = json.loads((repo / "results/adapters/smollm2__self/finetuned_model.json").read_text())
    assert ft["model"].startswith("ft:smollm2")
    usage_file = repo / "logs/usage/results/object/smollm2/test.jsonl.usage.json"
    usage = json.loads(usage_file.read_text())
    assert usage["requests"] > 0
