"""A webhook that is down or slow costs a log line, never an exception."""

from services.monitor.adapters.webhook import post_webhook, slack_message
from shared.process import free_port


async def test_unreachable_webhook_returns_false() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    assert await post_webhook(url, slack_message("t", ["x"]), timeout_s=1.0) is False
