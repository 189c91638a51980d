"""Key and secret files: private from their first byte, kept when they exist, never echoed."""

import importlib.util
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from contracts.identity import DEV_KEY_MARKER

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))

import devkeys  # noqa: E402 - from deploy/local, put on the path above


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_secrets = _load(ROOT / "deploy" / "k8s" / "make_secrets.py")
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----\n"


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A usual umask and no chmod afterwards: a file is private only if it was born private."""
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_devkeys_creates_the_private_key_and_the_hook_secret_0600(
    tmp_path: Path, no_chmod: None
) -> None:
    dev = devkeys.ensure(tmp_path / "dev")
    assert _mode(dev.private_key_file) == 0o600
    assert _mode(tmp_path / "dev" / "hook-secret") == 0o600


def test_the_development_public_key_says_what_it_is(tmp_path: Path) -> None:
    dev = devkeys.ensure(tmp_path / "dev")
    assert dev.public_key_file.read_text().startswith(DEV_KEY_MARKER)
    # Still a PEM public key for every reader (PyJWT here, HAProxy at the gateway).
    import jwt

    token = dev.token("6f1c9d0e-8a2b-4c3d-9e4f-5a6b7c8d9e0f")
    claims = jwt.decode(
        token, dev.public_key_file.read_text(), algorithms=["RS256"], audience="todos-budget"
    )
    assert claims["sub"] == "6f1c9d0e-8a2b-4c3d-9e4f-5a6b7c8d9e0f"


def test_make_secrets_writes_every_file_0600(tmp_path: Path, no_chmod: None) -> None:
    written = make_secrets.write(tmp_path, PEM)
    assert written
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}


# Only these files hold a value no other file repeats (the superuser's and the broker admin's
# passwords): rebuilt, they get a new one; every other file comes back as it was.
SOLE_HOLDERS = {"postgres.env", "definitions.json"}


@pytest.mark.parametrize("missing", make_secrets.FILES)
def test_make_secrets_keeps_what_exists_when_one_file_is_missing(
    tmp_path: Path, missing: str
) -> None:
    make_secrets.write(tmp_path, PEM)
    before = {name: (tmp_path / name).read_text() for name in make_secrets.FILES}
    (tmp_path / missing).unlink()
    written = make_secrets.write(tmp_path, PEM)
    assert [p.name for p in written] == [missing]
    after = {name: (tmp_path / name).read_text() for name in make_secrets.FILES}
    # Rebuilt from the passwords the other files hold: still in step with a database volume.
    same = set(make_secrets.FILES) - ({missing} & SOLE_HOLDERS)
    assert {n: after[n] for n in same} == {n: before[n] for n in same}


def test_make_secrets_gives_the_budget_subscriber_the_secret_budget_verifies(
    tmp_path: Path,
) -> None:
    make_secrets.write(tmp_path, PEM)
    todos = dict(line.split("=", 1) for line in (tmp_path / "todos.env").read_text().splitlines())
    budget = dict(line.split("=", 1) for line in (tmp_path / "budget.env").read_text().splitlines())
    [hook] = json.loads(todos["TODOS_HOOKS"])
    assert json.loads(budget["BUDGET_HOOK_SECRETS"]) == [hook["secret"]]


def test_make_secrets_rewrites_unprefixed_service_files_keeping_their_values(
    tmp_path: Path,
) -> None:
    make_secrets.write(tmp_path, PEM)
    before = {name: (tmp_path / name).read_text() for name in make_secrets.FILES}
    for name, prefix in (("todos.env", "TODOS_"), ("budget.env", "BUDGET_")):
        text = before[name].replace(prefix, "")
        assert prefix not in text
        (tmp_path / name).write_text(text)
    written = make_secrets.write(tmp_path, PEM)
    assert sorted(p.name for p in written) == ["budget.env", "todos.env"]
    assert {name: (tmp_path / name).read_text() for name in make_secrets.FILES} == before
