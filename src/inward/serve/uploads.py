"""Uploaded files: ``multipart/form-data`` parsing and the store behind ``/v1/files``."""

from __future__ import annotations

import json
import secrets
import time
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path


def parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Parse multipart/form-data without python-multipart: {field: (filename, bytes)}."""
    msg = BytesParser(policy=email_policy).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
        + body)
    out: dict[str, tuple[str | None, bytes]] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = str(part.get_payload()).encode()
        out[str(name)] = (part.get_filename(), payload)
    return out


class FileStore:
    """Uploaded files under ``root``: ``<id>`` holds the bytes, ``<id>.json`` OpenAI's file
    object. They survive restarts, as the jobs that name them do."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, filename: str | None, purpose: str) -> dict:
        """Store an upload; its file object."""
        fid = "file-" + secrets.token_hex(12)
        (self.root / fid).write_bytes(data)
        meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename or "upload.jsonl", "purpose": purpose,
                "status": "processed", "status_details": None}
        (self.root / f"{fid}.json").write_text(json.dumps(meta))
        return meta

    def meta(self, file_id: str) -> dict | None:
        """The file object of ``file_id`` (None: no such file)."""
        p = self.root / f"{file_id}.json"
        if "/" in file_id or not p.exists():
            return None
        return json.loads(p.read_text())

    def has(self, file_id: str) -> bool:
        return "/" not in file_id and self.path(file_id).is_file()

    def path(self, file_id: str) -> Path:
        """Where the bytes of ``file_id`` are."""
        return self.root / file_id
