"""The dashboard's server side: the page, its assets, the event feed and safe report serving."""

from __future__ import annotations

from fastapi.testclient import TestClient

from schemas import new_event
from schemas.events.alerts import AlertRaised
from services.registry.bootstrap import RegistryService


def test_dashboard_page_and_assets_are_served(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200 and "Challenger" in page.text and "/dashboard/app.js" in page.text
    assert client.get("/dashboard/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/dashboard/nope.js").status_code == 404


def test_recent_events_are_returned_after_a_sequence_number(client: TestClient) -> None:
    feed = client.app.state.service.feed  # type: ignore[attr-defined]
    for i in range(3):
        feed.add(new_event(AlertRaised(alert_id=f"a{i}", candidate_id="c1", severity="warning", title=f"t{i}"),
                           source="test"))
    events = client.get("/api/v1/events/recent").json()
    assert [e["fields"]["title"] for e in events] == ["t0", "t1", "t2"]
    later = client.get("/api/v1/events/recent", params={"after": events[1]["seq"]}).json()
    assert [e["fields"]["title"] for e in later] == ["t2"]
    assert later[0]["type"] == "alert.raised" and later[0]["subject"] == "c1"


def test_reports_are_served_from_the_reports_folder_only(client: TestClient, registry: RegistryService) -> None:
    reports = registry.settings.reports_dir
    (reports / "evaluations" / "ev1").mkdir(parents=True)
    (reports / "evaluations" / "ev1" / "report.html").write_text("<h1>report</h1>")
    (registry.settings.home / "admin-token").write_text("secret")
    assert client.get("/reports/evaluations/ev1/report.html").text == "<h1>report</h1>"
    assert client.get("/reports/../admin-token").status_code == 404
    assert client.get("/reports/%2e%2e/admin-token").status_code == 404


def test_the_button_table_is_served(client: TestClient) -> None:
    table = client.get("/dashboard/actions.json").json()
    assert table["shown"]["operator"]["canary"] == ["promote", "rollback"]
    assert table["shown"]["submitter"]["awaiting_approval"] == []
    assert table["buttons"]["reject"]["to_stage"] == "rejected"
