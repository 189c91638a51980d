"""The AsyncAPI document passes the AsyncAPI 3.0 schema check, and a broken copy does not."""

import json
from pathlib import Path

import ops_check
import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = ROOT / "contracts/asyncapi.json"
SCHEMA = ROOT / "deploy/validate/asyncapi-3.0.0.schema.json"


def test_the_committed_document_is_valid_asyncapi_3() -> None:
    assert "valid AsyncAPI 3.0.0" in ops_check.check_asyncapi(DOCUMENT, SCHEMA)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("operations", "publishTaskCompletedV1", "action"), "publish"),  # AsyncAPI 2's word
        (("channels", "TaskCompletedV1", "bindings", "amqp", "is"), "topic"),
    ],
)
def test_a_broken_document_fails(tmp_path: Path, where: tuple[str, ...], value: str) -> None:
    doc = json.loads(DOCUMENT.read_text())
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(doc))
    with pytest.raises(ops_check.OpsError):
        ops_check.check_asyncapi(broken, SCHEMA)
