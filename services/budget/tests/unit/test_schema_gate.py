"""The revisions the readiness gate knows are alembic's, in order."""

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from budget.schema_gate import REVISIONS

ALEMBIC = Path(__file__).resolve().parents[2] / "alembic"


def test_the_gate_knows_every_migration_in_order_with_the_head_last() -> None:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC))
    script = ScriptDirectory.from_config(config)
    history = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert tuple(history) == REVISIONS, "add the new migration to schema_gate.REVISIONS"
