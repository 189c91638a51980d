"""The account save's parameters come from one tuple (`SAVE_PARAMS`): the bind values are built
by name from it, and the migration that last defines `budget_save_account` declares exactly its
types, in its order."""

import importlib.util
import re
from pathlib import Path
from uuid import uuid4

from budget.adapters.accounts import SAVE, SAVE_MANY, SAVE_NAMES, SAVE_TYPES, save_values
from budget.domain.account import Account

VERSIONS = Path(__file__).parents[2] / "alembic" / "versions"


def latest_save_signature() -> tuple[str, list[str]]:
    """The newest migration that (re)creates `budget_save_account`, and its parameter types."""
    for path in sorted(VERSIONS.glob("*.py"), reverse=True):
        if "budget_save_account" not in path.read_text():
            continue
        spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return path.name, [t.strip() for t in module.SIGNATURE.split(",")]
    raise AssertionError("no migration defines budget_save_account")


def test_the_migration_declares_the_save_parameters_in_order() -> None:
    name, types = latest_save_signature()
    assert types == list(SAVE_TYPES), name


def test_every_parameter_gets_a_value_by_name() -> None:
    account = Account(
        owner_id=uuid4(),
        task_id=uuid4(),
        token_type_id=uuid4(),
        code="gold",
        opening_balance=0,
        version=0,
    )
    assert tuple(save_values(account, None, None)) == SAVE_NAMES


def test_the_statements_bind_one_placeholder_per_parameter() -> None:
    count = len(SAVE_TYPES)
    assert re.findall(r"\$(\d+)", SAVE) == [str(i) for i in range(1, count + 1)]
    assert len(re.findall(r"\$\d+::\w+(?:\[\])?\[\]", SAVE_MANY)) == count
    assert len(set(SAVE_NAMES)) == count
