"""The tiny study with both models behind the openai backend, served by ``inward serve`` on
loopback (generation, log-probabilities, sampling and hosted finetuning all go over HTTP), gives
the same answers and metrics as the local backend on the same config.

Greedy answers are compared byte for byte. Log-probabilities are not bit-identical: the local
backend scores prompts in padded batches, the server one prompt per request, and float32 sums
in another order differ around 1e-6 relative, so calibration MADs (in percentage points) are
compared to 1e-3 and every other metric exactly.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from e2e_support import ENV, TINY, new_study_repo, sh

from inward.serve import LoopbackServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def assert_same(a, b, path="metrics"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float) or isinstance(b, float):
        tol = 1e-3 if ".calibration_mad." in path else 1e-9
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=tol), \
            f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


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
    # every greedy answer, of every agent and split, is the same text as the local run's
    first = tiny_study.parent / "answers_first"
    answers = sorted(p.relative_to(first) for p in first.rglob("*.jsonl"))
    assert answers == sorted(p.relative_to(repo / "results")
                             for kind in ("object", "hypothetical")
                             for p in (repo / "results" / kind).rglob("*.jsonl"))
    for rel in answers:
        assert (repo / "results" / rel).read_text() == (first / rel).read_text(), rel
    hosted = json.loads((repo / "reports/metrics.json").read_text())
    local = json.loads((tiny_study.parent / "metrics_first.json").read_text())
    assert_same(hosted, local)
    # it really went over HTTP: finetunes were hosted jobs and the adapters are model ids
    assert sum(r["path"] == "/v1/fine_tuning/jobs" and r.get("method") == "POST"
               for r in requests) == 6
    ft = json.loads((repo / "results/adapters/smollm2__self/finetuned_model.json").read_text())
    assert ft["model"].startswith("ft:smollm2")
    usage_file = repo / "logs/usage/results/object/smollm2/test.jsonl.usage.json"
    usage = json.loads(usage_file.read_text())
    assert usage["requests"] > 0
