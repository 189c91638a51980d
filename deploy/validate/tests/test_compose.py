"""The compose checks pass on our compose file and fail on broken ones."""

from pathlib import Path

import compose_check
import pytest

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the real compose file, next to the repo's files, with one edit."""
    text = COMPOSE.read_text()
    assert old in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    (tmp_path / "services/todos").mkdir(parents=True)
    (tmp_path / "services/budget").mkdir(parents=True)
    (tmp_path / "deploy/gateway").mkdir(parents=True)
    for path in ("services/todos/Dockerfile", "services/budget/Dockerfile"):
        (tmp_path / path).write_text((ROOT / path).read_text())
    (tmp_path / "deploy/gateway/haproxy.cfg").write_text("")
    return broken


def test_our_compose_file_passes_with_the_example_env():
    # 10 of the stack (web included), budget-dlq (profile `tools`), 4 of the `observability`
    # profile (collector, Jaeger, Prometheus, Grafana)
    assert "15 services" in compose_check.check(COMPOSE, ENV_EXAMPLE)


def test_an_invalid_depends_on_condition_fails_the_schema(tmp_path):
    broken = _broken_copy(tmp_path, "condition: service_healthy", "condition: service_happy")
    with pytest.raises(compose_check.ComposeError, match="compose-spec schema"):
        compose_check.check(broken, ENV_EXAMPLE)


def test_a_wrong_field_type_fails_the_schema(tmp_path):
    broken = _broken_copy(tmp_path, 'expose: ["8001"]', "expose: {port: 8001}")
    with pytest.raises(compose_check.ComposeError, match="compose-spec schema"):
        compose_check.check(broken, ENV_EXAMPLE)


def test_a_missing_required_variable_fails(tmp_path):
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE.read_text().replace("HOOK_SECRET=", "#HOOK_SECRET="))
    with pytest.raises(compose_check.ComposeError, match="HOOK_SECRET is not set"):
        compose_check.check(COMPOSE, env)


def test_a_dependency_on_an_unknown_service_fails(tmp_path):
    broken = _broken_copy(tmp_path, "todos-migrate: {condition", "todos-migrat: {condition")
    with pytest.raises(compose_check.ComposeError, match="unknown service 'todos-migrat'"):
        compose_check.check(broken, ENV_EXAMPLE)


def test_interpolation_follows_compose_rules():
    env = {"SET": "x", "EMPTY": ""}
    errors: list[str] = []
    got = compose_check.interpolate(
        ["$$SET", "${SET}", "${EMPTY:-d}", "${EMPTY-d}", "${UNSET-d}", "${SET:+alt}", "$SET!"],
        env,
        errors,
    )
    assert got == ["$SET", "x", "d", "", "d", "alt", "x!"]
    assert errors == []
    compose_check.interpolate("${EMPTY:?needed}", env, errors)
    assert errors == ["required variable EMPTY is not set: needed"]


def test_the_development_override_publishes_docs_and_the_broker_ui_on_loopback_only():
    env = compose_check.read_env_file(ENV_EXAMPLE)
    doc = compose_check.merge(
        compose_check.load(COMPOSE, env),
        compose_check.load(COMPOSE.parent / "compose.override.yml", env),
    )
    published = [p for s in doc["services"].values() for p in s.get("ports", [])]
    assert "127.0.0.1:15672:15672" in published
    assert "127.0.0.1:8001:8001" in published
    assert all(p.startswith("127.0.0.1:") for p in published if not p.endswith(":8080"))
    for worker in ("todos-relay", "budget-consumer"):
        assert "heartbeat" in " ".join(doc["services"][worker]["healthcheck"]["test"])
    assert doc["services"]["budget-dlq"]["profiles"] == ["tools"]
