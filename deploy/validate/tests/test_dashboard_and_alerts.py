"""The Grafana dashboard queries real metrics, and the alerts issue 12 asks for exist."""

import json
from pathlib import Path

import ops_check
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy/grafana/dashboards/todos-budget.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
METRICS = sorted(ROOT.glob("services/*/src/*/metrics.py"))


def test_our_dashboard_uses_known_metrics() -> None:
    assert "panels use known metrics" in ops_check.check_dashboard(DASHBOARD, METRICS)


def test_a_panel_on_a_metric_no_service_defines_fails(tmp_path: Path) -> None:
    broken = tmp_path / "dashboard.json"
    broken.write_text(DASHBOARD.read_text().replace("budget_dlq_messages", "budget_dlq_msgs"))
    with pytest.raises(ops_check.OpsError, match="budget_dlq_msgs"):
        ops_check.check_dashboard(broken, METRICS)


@pytest.mark.parametrize(
    "metric",
    [
        "todos_hook_calls_total",  # completions' hook outcomes and vetoes
        "todos_hook_call_duration_seconds_bucket",
        "todos_hook_breaker_state",
        "todos_outbox_unsent_rows",
        "todos_outbox_oldest_unsent_age_seconds",
        "todos_events_published_total",
        "budget_events_consumed_total",
        "budget_event_lag_seconds_bucket",
        "budget_dlq_messages",
        "budget_holds_active",
    ],
)
def test_the_dashboard_shows(metric: str) -> None:
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    assert any(metric in e for e in exprs)


@pytest.mark.parametrize(
    "expr",
    [
        "max(todos_outbox_oldest_unsent_age_seconds) > 120",
        "max(budget_dlq_messages) > 0",
        "max(todos_events_parked_messages) > 0",
        "max by (hook) (todos_hook_breaker_state) == 2",
    ],
)
def test_the_alert_exists(expr: str) -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"]
    assert expr in [r["expr"] for g in rules for r in g["rules"]]
