from services.monitor.adapters.webhook import slack_message


def test_slack_compatible_payload() -> None:
    msg = slack_message("Degradation on route qa", ["refusal_spike=0.9 (threshold 0.25)", "3 failing sample(s)"])
    assert msg["text"].startswith("Degradation on route qa\n• refusal_spike")
    assert [b["type"] for b in msg["blocks"]] == ["header", "section"]
    assert msg["blocks"][1]["text"]["type"] == "mrkdwn" and "3 failing" in msg["blocks"][1]["text"]["text"]
