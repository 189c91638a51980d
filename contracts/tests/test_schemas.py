import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contracts import schemas
from contracts.compat import incompatibilities

FIXTURES = Path(__file__).parent / "fixtures"


def test_committed_schemas_match_the_models() -> None:
    """Fails when a model changed and `make schemas` was not run (or was refused)."""
    assert schemas.check() == []


def test_every_event_and_hook_model_is_exported() -> None:
    names = set(schemas.exported_schemas())
    assert "todos.task.completed.v1.json" in names
    assert "todos.before_complete_task.request.json" in names
    assert "todos.before_complete_task.response.json" in names


def _completed() -> dict[str, Any]:
    return copy.deepcopy(schemas.exported_schemas()["todos.task.completed.v1.json"])


def test_identical_schema_is_compatible() -> None:
    assert incompatibilities(_completed(), _completed()) == []


def test_added_optional_field_is_compatible() -> None:
    new = _completed()
    new["properties"]["priority"] = {"type": "string"}
    assert incompatibilities(_completed(), new) == []


def test_removed_field_is_incompatible() -> None:
    new = _completed()
    del new["properties"]["title"]
    new["required"].remove("title")
    assert incompatibilities(_completed(), new) == ["$.title: field removed"]


def test_retyped_field_is_incompatible() -> None:
    new = _completed()
    new["properties"]["title"] = {"type": "integer", "title": "Title"}
    assert incompatibilities(_completed(), new) == ["$.title: type changed from string to integer"]


def test_new_required_field_is_incompatible() -> None:
    new = _completed()
    new["properties"]["priority"] = {"type": "string"}
    new["required"].append("priority")
    assert incompatibilities(_completed(), new) == ["$.priority: field is now required"]


def test_narrowed_enum_is_incompatible() -> None:
    old = {"type": "object", "properties": {"s": {"enum": ["a", "b"], "type": "string"}}}
    new = {"type": "object", "properties": {"s": {"enum": ["a"], "type": "string"}}}
    assert incompatibilities(old, new) == ["$.s: allowed values narrowed (lost ['b'])"]
    assert incompatibilities(new, old) == []  # widening is allowed


def test_removed_variant_of_a_union_is_incompatible() -> None:
    old = schemas.exported_schemas()["todos.before_complete_task.response.json"]
    new = copy.deepcopy(old)
    new["oneOf"] = [b for b in new["oneOf"] if not b["$ref"].endswith("/Veto")]
    assert incompatibilities(old, new) == ["$: variant Veto removed"]


@pytest.mark.parametrize(
    ("fixture", "compatible"),
    [("completed.v1.compatible.json", True), ("completed.v1.incompatible.json", False)],
)
def test_fixture_against_the_published_schema(fixture: str, compatible: bool) -> None:
    published = json.loads((schemas.SCHEMA_DIR / "todos.task.completed.v1.json").read_text())
    candidate = json.loads((FIXTURES / fixture).read_text())
    assert (incompatibilities(published, candidate) == []) is compatible


def test_writing_refuses_an_incompatible_change(tmp_path: Path) -> None:
    published = _completed()
    published["properties"]["legacy"] = {"type": "string"}
    (tmp_path / "todos.task.completed.v1.json").write_text(json.dumps(published))

    assert schemas.write(tmp_path) == ["todos.task.completed.v1.json: $.legacy: field removed"]
    assert json.loads((tmp_path / "todos.task.completed.v1.json").read_text()) == published
