"""What one server holds: its models, files, fine-tuning jobs and request log, the access key,
the injected failures still to come, and the limit on requests computed at once."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from inward.config.types import ModelConfig
from inward.serve.jobs import FineTuningJobs
from inward.serve.models import ServedModels
from inward.serve.request_log import RequestLog
from inward.serve.uploads import FileStore


class ServerState:
    """Files and jobs live under ``data_dir`` (``files/``, ``jobs/``) and survive restarts."""

    def __init__(self, models: Mapping[str, ModelConfig], data_dir: Path,
                 log_path: Path | None = None, require_key: str | None = None,
                 fail_first: int = 0, fail_status: int = 429, threads: int | None = None,
                 max_loaded: int = 4, parallel: int = 1, vary_first: int = 0,
                 fail_retry_after: str | None = None):
        self.data_dir = Path(data_dir).expanduser()
        self.models = ServedModels(models, threads=threads, max_loaded=max_loaded)
        self.files = FileStore(self.data_dir / "files")
        self.jobs = FineTuningJobs(self.data_dir / "jobs", self.models, self.files)
        self.log = RequestLog(Path(log_path) if log_path else None)
        self.require_key = require_key
        self.fail_status = int(fail_status)
        self.fail_retry_after = fail_retry_after
        self._fail_left = int(fail_first)
        self._vary_left = int(vary_first)
        self._fail_lock = threading.Lock()
        # at most ``parallel`` requests compute at once, each with torch's ``threads``: with one
        # thread each, answers are bit-identical to serving one request at a time
        self.compute = threading.BoundedSemaphore(max(1, int(parallel)))

    def authorized(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header value lets a request in."""
        return not self.require_key or authorization == f"Bearer {self.require_key}"

    def retry_after_headers(self) -> dict[str, str] | None:
        """The ``Retry-After`` header of an injected failure (``--fail-retry-after``)."""
        return {"Retry-After": self.fail_retry_after} if self.fail_retry_after else None

    def take_varied_answers(self, body: dict) -> bool:
        """Whether this greedy request for n > 1 answers is one of the first ``vary_first``,
        whose answers differ (a hosted model whose greedy decoding is not deterministic)."""
        greedy_n = body.get("temperature") == 0 and int(body.get("n") or 1) > 1
        with self._fail_lock:
            vary = greedy_n and self._vary_left > 0
            if vary:
                self._vary_left -= 1
            return vary

    def take_injected_failure(self) -> bool:
        """Whether this chat request is one of the first ``fail_first`` (which fail)."""
        with self._fail_lock:
            fail = self._fail_left > 0
            if fail:
                self._fail_left -= 1
            return fail
