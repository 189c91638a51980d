"""The launcher's hook subscriptions: every subscriber its own secret; budget keeps its own."""

import json
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))

import devkeys  # noqa: E402 - from deploy/local, put on the path above
import options  # noqa: E402
import stack  # noqa: E402


class _Recorder:
    """Stands in for the supervisor: keeps each process's environment instead of starting it."""

    def __init__(self) -> None:
        self.envs: dict[str, dict[str, str]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str], **_: object) -> None:
        self.envs[name] = dict(env)


def _started(tmp_path: Path, *extra: str) -> dict[str, dict[str, str]]:
    argv = ["--dev-dir", str(tmp_path / "dev")]
    for spec in extra:
        argv += ["--extra-hook", spec]
    o = options.parse(argv)
    recorder = _Recorder()
    stack.start_services(recorder, o, devkeys.ensure(o.dev_dir))  # type: ignore[arg-type]
    return recorder.envs


def test_an_extra_subscriber_gets_its_own_secret_not_budget_s(tmp_path: Path) -> None:
    envs = _started(tmp_path, "name=audit,url=http://127.0.0.1:9/hook", "name=mail,url=http://x/h")
    hooks = {h["name"]: h["secret"] for h in json.loads(envs["todos-api"]["TODOS_HOOKS"])}
    [budget_secret] = json.loads(envs["budget-api"]["BUDGET_HOOK_SECRETS"])
    assert hooks["budget"] == budget_secret
    assert len({hooks["budget"], hooks["audit"], hooks["mail"]}) == 3
    # Kept across runs (a subscriber configured with it keeps verifying), born 0600.
    again = _started(tmp_path, "name=audit,url=http://127.0.0.1:9/hook")
    assert {h["name"]: h["secret"] for h in json.loads(again["todos-api"]["TODOS_HOOKS"])}[
        "audit"
    ] == (hooks["audit"])
    [audit_file] = (tmp_path / "dev").glob("hook-secret.audit")
    assert stat.S_IMODE(audit_file.stat().st_mode) == 0o600


def test_the_services_run_as_development(tmp_path: Path) -> None:
    envs = _started(tmp_path)
    assert {
        value for env in envs.values() for key, value in env.items() if key.endswith("_ENVIRONMENT")
    } == {"development"}
    assert all(f"{name.split('-')[0].upper()}_ENVIRONMENT" in env for name, env in envs.items())


def test_the_services_get_only_names_they_know(tmp_path: Path, monkeypatch) -> None:
    # The launcher's own TODOS_DB / BUDGET_DB and the suites' databases stay with it; a
    # setting of the user's (TODOS_DB_POOL_SIZE) goes through.
    from budget import settings_env as budget_env
    from todos import settings_env as todos_env

    monkeypatch.setenv("TODOS_DB", "mine")
    monkeypatch.setenv("BUDGET_DB", "mine")
    monkeypatch.setenv("TODOS_DB_POOL_SIZE", "3")
    envs = _started(tmp_path)
    assert envs["todos-api"]["TODOS_PORT"] == "8001"
    assert envs["budget-api"]["BUDGET_PORT"] == "8002"
    assert envs["budget-api"]["BUDGET_HOLD_TTL"] == "PT10M"
    for name, env in envs.items():
        assert "TODOS_DB" not in env, name
        assert env["TODOS_DB_POOL_SIZE"] == "3", name
        assert todos_env.unknown_settings(env) == [], name
        assert budget_env.unknown_settings(env) == [], name
