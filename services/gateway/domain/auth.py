"""API keys per client. Keys are kept only as SHA-256 digests, and a presented key is
compared with every known digest in constant time, so the time taken tells neither
whether nor which key matched.

A gateway deployed for real needs keys: `check_auth_config` refuses to start one without
any unless `CHALLENGER_GATEWAY_AUTH=off` says so explicitly (the embedded demo stack does)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

NO_KEYS = ("the gateway has no API keys. Set CHALLENGER_GATEWAY_API_KEYS (client:key,...) or "
           "CHALLENGER_GATEWAY_API_KEY_HASHES (sha256 hex digests), or set CHALLENGER_GATEWAY_AUTH=off "
           "to serve without authentication (a local demo only: anyone who reaches it spends the models' budget)")


class AuthConfigError(ValueError):
    """The gateway's authentication settings do not allow it to start."""


@dataclass(frozen=True)
class ApiKeys:
    clients: tuple[tuple[bytes, str], ...]  # (sha256 digest, client name)

    @classmethod
    def from_config(cls, plain: str, digests: str) -> ApiKeys:
        clients: list[tuple[bytes, str]] = []
        for i, item in enumerate(filter(None, (s.strip() for s in plain.split(",")))):
            name, _, key = item.rpartition(":") if ":" in item else (f"client{i}", "", item)
            clients.append((hashlib.sha256(key.encode()).digest(), name))
        for i, item in enumerate(filter(None, (s.strip() for s in digests.split(",")))):
            name, _, digest = item.rpartition(":") if ":" in item else (f"hashed{i}", "", item)
            clients.append((_digest_bytes(digest.lower()), name))
        return cls(tuple(clients))

    @classmethod
    def off(cls) -> ApiKeys:
        return cls(())

    @property
    def enabled(self) -> bool:
        return bool(self.clients)

    def client(self, authorization: str | None) -> str | None:
        """The client name for an `Authorization: Bearer KEY` header, or None."""
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        digest = hashlib.sha256(authorization[7:].strip().encode()).digest()
        found = None
        for known, name in self.clients:  # every key, no early exit
            if hmac.compare_digest(known, digest):
                found = name
        return found


def _digest_bytes(digest: str) -> bytes:
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raw = b""
    if len(raw) != hashlib.sha256().digest_size:
        raise AuthConfigError(f"CHALLENGER_GATEWAY_API_KEY_HASHES: {digest[:12]!r}... is not a sha256 digest "
                              "(64 hex characters, e.g. from: printf %s KEY | sha256sum)")
    return raw


def check_auth_config(auth: str, keys: ApiKeys) -> ApiKeys:
    """The keys the gateway enforces; raises AuthConfigError when it must not start."""
    if auth == "off":
        log.warning("authentication is OFF (CHALLENGER_GATEWAY_AUTH=off)%s: anyone who can reach this gateway "
                    "can call its models", "; the configured API keys are ignored" if keys.enabled else "")
        return ApiKeys.off()
    if not keys.enabled:
        raise AuthConfigError(NO_KEYS)
    return keys
