"""Content-addressed blobs (the claim check for datasets and reports): file:// here, the
same URIs on shared storage in production. Reads verify the sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlparse


class BlobError(ValueError):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(root: Path, data: bytes, suffix: str = ".jsonl") -> tuple[str, str]:
    """Store `data` under `root`; return (uri, sha256). Storing the same bytes twice is free."""
    digest = sha256(data)
    path = root / "blobs" / digest[:2] / f"{digest}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.resolve().as_uri(), digest


def get(uri: str, expected_sha256: str | None = None) -> bytes:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise BlobError(f"unsupported blob URI scheme {parsed.scheme!r} in {uri}")
    path = Path(parsed.path)
    if not path.exists():
        raise BlobError(f"blob not found: {uri}")
    data = path.read_bytes()
    if expected_sha256 and sha256(data) != expected_sha256:
        raise BlobError(f"blob {uri} does not match its sha256")
    return data
