"""Which candidate endpoints the registry accepts: an optional allow-list against SSRF (a
candidate's URL is called by the evaluator, the load tester and the gateway from inside the
cluster, so an open list would let a submitter aim them at internal services)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlparse

from services.registry.domain.validation import FieldError


def endpoint_allowed(url: str, allowlist: Sequence[str]) -> bool:
    if not allowlist:
        return True
    host = (urlparse(url).hostname or "").lower()
    return any(_matches(host, entry.lower()) for entry in allowlist)


def _matches(host: str, entry: str) -> bool:
    if "/" in entry:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    if entry.startswith("."):
        return host.endswith(entry) or host == entry[1:]
    return host == entry


def check_endpoint(url: str | None, allowlist: Sequence[str]) -> list[FieldError]:
    if url is None or endpoint_allowed(url, allowlist):
        return []
    return [FieldError("endpoint", f"host of {url} is not in the endpoint allow-list ({', '.join(allowlist)})")]
