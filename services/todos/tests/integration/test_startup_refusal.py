"""The real processes refuse to start in production with the committed placeholder secrets."""

import os
import subprocess
import sys

import pytest

from contracts.identity import DEV_KEY_MARKER

# The values of deploy/k8s (before the generator) and .env.example: what an operator forgets.
PROGRAM = "todos-api"
PLACEHOLDERS = {
    "TODOS_ENVIRONMENT": "production",
    "TODOS_DATABASE_URL": "postgresql+asyncpg://todos:CHANGE-ME-todos-db@127.0.0.1:1/todos",
    "TODOS_AMQP_URL": "amqp://todos:CHANGE-ME-todos-amqp@127.0.0.1:1/",
    "TODOS_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nCHANGE-ME\n-----END PUBLIC KEY-----",
    "TODOS_HOOKS": (
        '[{"name": "budget", "url": "http://budget-api:8002/h", "secret": "CHANGE-ME-hook"}]'
    ),
    "TODOS_PORT": "0",
}


@pytest.mark.parametrize("program", ["todos-api", "todos-relay"])
def test_a_process_refuses_to_start_with_placeholder_secrets(program: str) -> None:
    entry = os.path.join(os.path.dirname(sys.executable), program)
    result = subprocess.run(
        [entry],
        env={**os.environ, **PLACEHOLDERS},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "refusing to start with TODOS_ENVIRONMENT=production" in output
    for what in ("DATABASE_URL", "AMQP_URL", "JWT public key", "HOOKS"):
        assert what in output, output


def test_without_environment_a_process_is_production_and_refuses_the_development_key(
    tmp_path,
) -> None:
    # compose's mount point, nothing in the path says development; the key's content does.
    mounted = tmp_path / "jwt_public_key"
    mounted.write_text(
        f"{DEV_KEY_MARKER}\n-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TODOS_ENVIRONMENT"}
    env.update(
        {**PLACEHOLDERS, "TODOS_JWT_PUBLIC_KEY": "", "TODOS_JWT_PUBLIC_KEY_FILE": str(mounted)}
    )
    del env["TODOS_ENVIRONMENT"]
    entry = os.path.join(os.path.dirname(sys.executable), PROGRAM)
    result = subprocess.run(
        [entry], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "refusing to start with TODOS_ENVIRONMENT=production" in output
    assert "the JWT public key is the development key" in output
