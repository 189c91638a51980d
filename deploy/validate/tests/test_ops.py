"""The topology and alert-rule checks pass on our files and fail on broken ones."""

import json
from pathlib import Path

import ops_check
import pytest

ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = ROOT / "deploy/rabbitmq/topology.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
METRICS = sorted(ROOT.glob("services/*/src/*/metrics.py"))


def _topology(tmp_path: Path, edit: str, old: str, new: str) -> Path:
    doc = json.loads(TOPOLOGY.read_text())
    for item in doc[edit]:
        for key, value in list(item.items()):
            if value == old:
                item[key] = new
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(doc))
    return path


def test_our_topology_passes() -> None:
    summary = ops_check.check_topology(TOPOLOGY)
    assert "consistent" in summary


def test_the_topology_declares_budgets_queue_with_exact_bindings() -> None:
    doc = json.loads(TOPOLOGY.read_text())
    keys = {b["routing_key"] for b in doc["bindings"] if b["destination"] == "budget.todos-events"}
    assert "todos.task.completed.v1" in keys
    assert all("*" not in k for k in keys)
    events = next(e for e in doc["exchanges"] if e["name"] == "todos.events")
    assert events["arguments"] == {"alternate-exchange": "todos.events.unrouted"}


def test_a_binding_to_an_unknown_queue_fails(tmp_path: Path) -> None:
    broken = _topology(tmp_path, "bindings", "budget.todos-events", "budget.nowhere")
    with pytest.raises(ops_check.OpsError, match=r"binding to unknown queue budget\.nowhere"):
        ops_check.check_topology(broken)


def test_a_missing_alternate_exchange_fails(tmp_path: Path) -> None:
    doc = json.loads(TOPOLOGY.read_text())
    events = next(e for e in doc["exchanges"] if e["name"] == "todos.events")
    events["arguments"]["alternate-exchange"] = "todos.events.gone"
    broken = tmp_path / "topology.json"
    broken.write_text(json.dumps(doc))
    with pytest.raises(ops_check.OpsError, match=r"alternate exchange todos\.events\.gone"):
        ops_check.check_topology(broken)


def test_a_version_wildcard_binding_fails(tmp_path: Path) -> None:
    broken = _topology(tmp_path, "bindings", "todos.task.completed.v1", "todos.task.completed.*")
    with pytest.raises(ops_check.OpsError, match="wildcard"):
        ops_check.check_topology(broken)


def test_our_alert_rules_pass() -> None:
    assert "alert rules use known metrics" in ops_check.check_alerts(ALERTS, METRICS)


def test_an_alert_on_a_metric_no_service_defines_fails(tmp_path: Path) -> None:
    broken = tmp_path / "alerts.yml"
    broken.write_text(
        ALERTS.read_text().replace("todos_events_parked_messages", "todos_events_parkd")
    )
    with pytest.raises(ops_check.OpsError, match="todos_events_parkd is defined by no service"):
        ops_check.check_alerts(broken, METRICS)
