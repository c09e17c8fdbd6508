"""The request log: one JSON line per request, ``{"t", "method", "path", "model",
"messages_hash", "status"}``, written by the server and read back by tests."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path


def messages_hash(messages: object) -> str:
    """sha256 of the canonical JSON of a messages list (what the request log records)."""
    canon = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


class RequestLog:
    """Appends one line per request to ``path``; records nothing when ``path`` is None."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()

    def write(self, method: str, path: str, model: str | None, messages: object,
              status: int) -> None:
        if self.path is None:
            return
        rec = {"t": time.time(), "method": method, "path": path, "model": model,
               "messages_hash": messages_hash(messages) if messages is not None else None,
               "status": status}
        with self._lock, open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()


def read_request_log(path: Path) -> list[dict]:
    """The records of a request log so far, oldest first (none when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
