"""The monitor's Prometheus metrics (served on /metrics by the service kit)."""

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("challenger_monitor_records_total", "inference.logged records ingested")
EXCLUDED = Counter("challenger_monitor_records_excluded_total",
                   "inference.logged records left out of the windows (red-team requests on a staging route)",
                   ["purpose"])
FEEDBACK = Counter("challenger_monitor_feedback_total", "feedback.received events ingested")
WINDOWS = Counter("challenger_monitor_windows_total", "windows closed")
DEGRADATIONS = Counter("challenger_monitor_degradations_total", "degradation.detected events published")
DRIFT_SECONDS = Histogram("challenger_monitor_drift_seconds", "Evidently drift computation per window")
DRIFT_SKIPPED = Counter("challenger_monitor_drift_skipped_total", "windows analysed without drift (backlog full)")
DRIFT_SHARE = Gauge("challenger_monitor_drift_share",
                    "Share of drifted features in the last window analysed with drift, per route and candidate",
                    ["route", "candidate"])
