"""Budget's bindings and the topology the deployment declares (no broker needed)."""

import json
from pathlib import Path

from budget.adapters.topology import BINDING_KEYS, LEGACY_BINDING_KEYS, Topology
from budget.config import Settings
from budget.service_layer.events import HANDLERS
from contracts.envelope import EXCHANGE

DEFINITIONS = Path(__file__).resolve().parents[4] / "deploy" / "rabbitmq" / "topology.json"


def _default_topology() -> Topology:
    fields = Settings.model_fields
    return Topology(EXCHANGE, fields["queue"].default, fields["queue_delivery_limit"].default)


def test_the_queue_is_bound_to_exactly_the_types_budget_handles() -> None:
    assert set(BINDING_KEYS) == {event.event_type for event in HANDLERS}
    assert all("*" not in key and "#" not in key for key in BINDING_KEYS)
    assert "todos.task.completed.*" in LEGACY_BINDING_KEYS


def test_the_deployed_definitions_are_the_topology_budget_declares() -> None:
    # Regenerate with `uv run budget-topology definitions > deploy/rabbitmq/topology.json`.
    assert json.loads(DEFINITIONS.read_text()) == _default_topology().definitions()
