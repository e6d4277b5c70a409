"""A Slack-compatible incoming webhook. Best effort: a failure is logged, never raised."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


def slack_message(title: str, lines: list[str]) -> dict[str, Any]:
    body = "\n".join(f"• {line}" for line in lines)
    return {
        "text": f"{title}\n{body}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900] or "-"}},
        ],
    }


async def post_webhook(url: str, payload: dict[str, Any], timeout_s: float) -> bool:
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            resp = await client.post(url, json=payload)
        if resp.status_code >= 400:
            log.warning("webhook %s answered %s", url, resp.status_code)
            return False
        return True
    except httpx.HTTPError as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return False
