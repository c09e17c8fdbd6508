"""Hosted fine-tuning jobs, run as local LoRA finetunes: OpenAI's job objects, their
hyper-parameters as ``LoraHparams``, one training thread at a time, and ``job.json`` files that
keep jobs (and the ``ft:`` models they made) across restarts."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from inward.config.types import LoraHparams
from inward.serve.models import ServedModels
from inward.serve.uploads import FileStore

log = logging.getLogger(__name__)

# OpenAI's hyperparameters -> LoraHparams fields
OPENAI_HPARAMS = (("n_epochs", "epochs"), ("batch_size", "batch_size"),
                  ("learning_rate_multiplier", "learning_rate_multiplier"))
LOCAL_HPARAMS = frozenset(f.name for f in fields(LoraHparams)) - {"written"}


def local_hparams(job: dict) -> LoraHparams:
    """A job's LoRA values: its OpenAI hyperparameters ("auto": the local default), then the
    ``inward_hparams`` sent alongside them. OpenAI's learning-rate multiplier scales the local
    learning rate, so local LoRA gets a plain rate."""
    requested = job.get("hyperparameters") or {}
    raw: dict[str, Any] = {}
    for openai_name, name in OPENAI_HPARAMS:
        v = requested.get(openai_name)
        if v is not None and v != "auto":
            raw[name] = v
    raw.update(job.get("_inward_hparams") or {})
    unknown = set(raw) - LOCAL_HPARAMS
    if unknown:
        raise ValueError(f"unknown LoRA hparams {sorted(unknown)}; "
                         f"allowed: {sorted(LOCAL_HPARAMS)}")
    multiplier = raw.pop("learning_rate_multiplier", None)
    hparams = LoraHparams.from_params(raw)
    if multiplier is not None:
        hparams = hparams.updated({"learning_rate": float(hparams.learning_rate)
                                   * float(multiplier)})
    return hparams


def public(job: dict) -> dict:
    """The job object as OpenAI shows it (without the server's own ``_`` keys)."""
    return {k: v for k, v in job.items() if not k.startswith("_")}


class FineTuningJobs:
    """Jobs under ``root/<job id>/`` (``job.json``, ``adapter/``); each succeeded job adds its
    ``ft:`` model to ``models``."""

    def __init__(self, root: Path, models: ServedModels, files: FileStore):
        self.root = root
        self.models = models
        self.files = files
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, dict] = {}
        self._lock = threading.RLock()
        self._train_lock = threading.Lock()   # one finetune at a time
        self._load()

    def _save(self, job: dict) -> None:
        p = self.root / job["id"] / "job.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name("job.json.tmp")
        tmp.write_text(json.dumps(job, indent=2))
        tmp.replace(p)

    def _load(self) -> None:
        for p in sorted(self.root.glob("*/job.json")):
            try:
                job = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if job["status"] not in ("succeeded", "failed", "cancelled"):
                job["status"] = "failed"
                job["error"] = {"code": "server_restarted", "param": None,
                                "message": "the server stopped while this job was running"}
                self._save(job)
            self._jobs[job["id"]] = job
            if job["status"] == "succeeded" and job["_root_base"] in self.models.bases:
                self.models.add_finetuned(job["fine_tuned_model"], job["_root_base"],
                                          job["_adapter"])

    def get(self, job_id: str) -> dict | None:
        """The public job object (None: no such job)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return public(job) if job else None

    def create(self, body: dict, root: str, init_adapter: str | None,
               training_file: str) -> dict:
        """Record a job for the request ``body`` on base model ``root`` (continuing from
        ``init_adapter``) and start training it; the public job object."""
        job_id = "ftjob-" + secrets.token_hex(12)
        hp = body.get("hyperparameters") or {}
        method = body.get("method") or {}
        if not hp and isinstance(method, dict):
            hp = ((method.get(method.get("type") or "supervised") or {})
                  .get("hyperparameters") or {})
        job = {"id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()),
               "model": body.get("model"), "training_file": training_file,
               "validation_file": None,
               "hyperparameters": {"n_epochs": hp.get("n_epochs", "auto"),
                                   "batch_size": hp.get("batch_size", "auto"),
                                   "learning_rate_multiplier":
                                       hp.get("learning_rate_multiplier", "auto")},
               "seed": int(body.get("seed") or 0), "status": "validating_files",
               "fine_tuned_model": None, "finished_at": None, "error": None,
               "organization_id": "org-inward", "result_files": [], "trained_tokens": None,
               "suffix": body.get("suffix"),
               "_root_base": root, "_init_adapter": init_adapter,
               "_adapter": str(self.root / job_id / "adapter"),
               "_inward_hparams": body.get("inward_hparams") or {}}
        with self._lock:
            self._jobs[job_id] = job
            self._save(job)
        threading.Thread(target=self.run, args=(job_id,), daemon=True,
                         name=f"finetune-{job_id}").start()
        return public(job)

    def run(self, job_id: str) -> None:
        """Train one job (after any running one) and record how it ended."""
        from inward.backends import finetune

        with self._lock:
            job = self._jobs[job_id]
        try:
            with self._train_lock:
                with self._lock:
                    job["status"] = "running"
                    self._save(job)
                out = Path(job["_adapter"])
                finetune(self.models.bases[job["_root_base"]],
                         self.files.path(job["training_file"]), out, local_hparams(job),
                         init_adapter=job.get("_init_adapter"),
                         seed=int(job.get("seed") or 0), threads=self.models.threads)
            ft_id = f"ft:{job['_root_base']}:{job_id}"
            # servable before the job says so: a client that sees "succeeded" can use it
            self.models.add_finetuned(ft_id, job["_root_base"], str(out))
            with self._lock:
                job.update(status="succeeded", fine_tuned_model=ft_id,
                           finished_at=int(time.time()))
                self._save(job)
            log.info("job %s succeeded: %s", job_id, ft_id)
        except Exception as e:
            log.exception("job %s failed", job_id)
            with self._lock:
                job.update(status="failed", finished_at=int(time.time()),
                           error={"code": "training_failed", "param": None,
                                  "message": f"{type(e).__name__}: {e}"})
                self._save(job)
