"""The response cache of hosted models: every answer a hosted API gave, kept on disk.

One SQLite database (WAL mode) per cache directory, keyed by the sha256 of everything that
determines a response: model, base_url, messages and the sampling settings (kind, k, n,
temperature, seed, max_tokens).  Every response is committed the moment it arrives, so a
study that is killed half way never pays for the same request twice.

The directory comes from the model config's ``cache_dir``, else the ``INWARD_CACHE``
environment variable, else ``~/.cache/inward``; it lives outside DVC-tracked outputs. The same
directory holds the state of hosted finetuning jobs (``inward.backends.hosted``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from inward.config.types import ModelConfig

DB_NAME = "responses.sqlite"


def cache_dir(cfg: ModelConfig | None = None) -> Path:
    """Directory holding the response cache and hosted-finetune job state."""
    d = (cfg and cfg.cache_dir) or os.environ.get("INWARD_CACHE") or "~/.cache/inward"
    return Path(d).expanduser()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(**parts: Any) -> str:
    """sha256 hex digest of the canonical JSON of ``parts``."""
    return hashlib.sha256(_canonical(parts).encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe SQLite key -> JSON value store with hit/miss counters.

    Each thread gets its own connection; WAL mode lets readers and the writer overlap and lets
    several processes share one cache file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self.hits = 0
        self.misses = 0
        conn = self._conn()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            " key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
        )
        conn.commit()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def get(self, key: str, count: bool = True) -> Any | None:
        row = self._conn().execute("SELECT value FROM responses WHERE key=?", (key,)).fetchone()
        if count:
            with self._lock:
                if row is None:
                    self.misses += 1
                else:
                    self.hits += 1
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Store and commit at once (a killed run keeps every response it received)."""
        conn = self._conn()
        conn.execute(
            "INSERT OR REPLACE INTO responses(key, value, created) VALUES (?, ?, ?)",
            (key, _canonical(value), time.time()),
        )
        conn.commit()

    def __contains__(self, key: str) -> bool:
        return self.get(key, count=False) is not None

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def stats(self) -> dict:
        with self._lock:
            return {"cache_hits": self.hits, "cache_misses": self.misses, "path": str(self.path)}

    def reset_stats(self) -> None:
        with self._lock:
            self.hits = self.misses = 0

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except sqlite3.ProgrammingError:  # closed from another thread: harmless
                    pass
            self._conns.clear()
        self._local = threading.local()


_OPEN: dict[str, ResponseCache] = {}
_OPEN_LOCK = threading.Lock()


def open_cache(cfg: ModelConfig | None = None) -> ResponseCache:
    """The (process-wide shared) response cache for this model config's cache directory."""
    path = str((cache_dir(cfg) / DB_NAME).resolve())
    with _OPEN_LOCK:
        if path not in _OPEN:
            _OPEN[path] = ResponseCache(path)
        return _OPEN[path]
