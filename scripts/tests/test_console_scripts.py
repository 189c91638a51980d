"""Every installed command answers `--help` at once, exit 0, without starting anything.

The commands are read from the `[project.scripts]` of every workspace member, so a new one is
covered the day it is added. Each runs from the workspace venv under a timeout: a command that
started a server or a worker instead would still be running when it ends.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _members() -> list[Path]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [ROOT / m for m in root["tool"]["uv"]["workspace"]["members"]]


def console_scripts() -> dict[str, str]:
    """Every `[project.scripts]` entry of the workspace: command -> `module:function`."""
    found: dict[str, str] = {}
    for member in _members():
        project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
        found.update(project.get("scripts", {}))
    return found


def test_the_workspace_has_the_commands_we_know_of() -> None:
    # A floor, not the list: the parametrized test below covers whatever the files declare.
    assert {"todos-api", "todos-relay", "budget-api", "budget-consumer"} <= set(console_scripts())


@pytest.mark.parametrize("command", sorted(console_scripts()))
def test_help_answers_without_starting(command: str, tmp_path: Path) -> None:
    # Nothing reachable: were a command to connect or listen anyway, it would fail or hang.
    env = {
        **os.environ,
        "TODOS_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        "BUDGET_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        "TODOS_AMQP_URL": "amqp://nobody:nobody@127.0.0.1:1/",
        "BUDGET_AMQP_URL": "amqp://nobody:nobody@127.0.0.1:1/",
    }
    done = subprocess.run(
        [str(VENV_BIN / command), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout
    assert command in done.stdout.splitlines()[0]
