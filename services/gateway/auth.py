"""API keys per client. Keys are kept only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeys:
    clients: dict[str, str]  # digest -> client name

    @classmethod
    def from_config(cls, plain: str, digests: str) -> ApiKeys:
        clients: dict[str, str] = {}
        for i, item in enumerate(filter(None, (s.strip() for s in plain.split(",")))):
            name, _, key = item.rpartition(":") if ":" in item else (f"client{i}", "", item)
            clients[key_digest(key)] = name
        for i, digest in enumerate(filter(None, (s.strip().lower() for s in digests.split(",")))):
            clients[digest] = f"hashed{i}"
        return cls(clients)

    @property
    def enabled(self) -> bool:
        return bool(self.clients)

    def client(self, authorization: str | None) -> str | None:
        """The client name for an `Authorization: Bearer KEY` header, or None."""
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        digest = key_digest(authorization[7:].strip())
        for known, name in self.clients.items():
            if hmac.compare_digest(known, digest):
                return name
        return None
