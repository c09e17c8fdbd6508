"""``LoopbackServer``: ``python -m inward.serve.cli`` in a subprocess on a free loopback port,
for the tests and the hosted end-to-end study."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from inward.serve.request_log import read_request_log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """Run ``python -m inward.serve.cli`` in a subprocess on a free loopback port (tests, studies).

        with LoopbackServer({"smol": "embedded:smollm2-135m"}, log_requests=path) as srv:
            os.environ["OPENAI_BASE_URL"] = srv.base_url
    """

    def __init__(self, models: Mapping[str, str], log_requests: str | Path | None = None,
                 data_dir: str | Path | None = None, extra_args: list[str] | None = None,
                 port: int | None = None, env: Mapping[str, str] | None = None,
                 startup_timeout: float = 600, stderr_path: str | Path | None = None):
        self.models = models
        self.log_path = Path(log_requests) if log_requests else None
        self.data_dir = data_dir
        self.extra_args = list(extra_args or [])
        self.port = port or free_port()
        self.env = env
        self.startup_timeout = startup_timeout
        self.stderr_path = stderr_path
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Self:
        cmd = [sys.executable, "-m", "inward.serve.cli", "--host", "127.0.0.1",
               "--port", str(self.port)]
        for name, source in self.models.items():
            cmd += ["--model", f"{name}={source}"]
        if self.log_path:
            cmd += ["--log-requests", str(self.log_path)]
        if self.data_dir:
            cmd += ["--data-dir", str(self.data_dir)]
        cmd += self.extra_args
        env = {**os.environ, **(self.env or {})}
        if self.stderr_path:
            with open(self.stderr_path, "ab") as err:  # the child keeps its own descriptor
                self.proc = subprocess.Popen(cmd, env=env, stdout=err, stderr=err)
        else:
            self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.time() + self.startup_timeout
        headers = {}
        if "--require-key" in self.extra_args:
            key = self.extra_args[self.extra_args.index("--require-key") + 1]
            headers["Authorization"] = f"Bearer {key}"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"inward.serve.cli exited with {self.proc.returncode}: {cmd}")
            try:
                req = urllib.request.Request(self.base_url + "/models", headers=headers)
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"inward.serve.cli did not answer on {self.base_url} in "
                           f"{self.startup_timeout}s")

    def requests(self) -> list[dict]:
        """The request log so far (one dict per request)."""
        return read_request_log(self.log_path) if self.log_path else []

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
