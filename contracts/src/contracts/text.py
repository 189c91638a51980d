"""Text on the wire: strings every JSON encoder and PostgreSQL `text` can carry.

Bad input is refused at the boundary (docs/architecture.md#errors).

A JSON string may spell U+0000 or a lone UTF-16 surrogate ("\\ud800"); PostgreSQL cannot store
the first and UTF-8 cannot encode the second, so both are refused where input enters.
"""

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# Documented in the JSON Schema, so clients (and fuzzers) know NUL is not text.
NO_NUL_PATTERN = "^[^\\u0000]*$"
# What str.strip() removes, spelled out so that Python, pydantic's Rust and ECMA regexes agree.
_SPACE = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_BLANK_PATTERN = f"^[^\\u0000]*[^\\u0000{_SPACE}][^\\u0000]*$"
"""No NUL, and one character at least that str.strip() keeps."""
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_text(value: str) -> str:
    """`value` unchanged, or `ValueError` if it holds NUL or an unpaired surrogate."""
    if _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL (U+0000) or an unpaired UTF-16 surrogate")
    return value


class StorableText:
    """`Annotated[str, <constraints>, STORABLE]`: adds `check_text`, documented as a pattern.

    Put it last, so length limits and patterns keep their own messages and JSON Schema.
    `StorableText(strip=True)` (NOT_BLANK) then strips the value and refuses it if blank:
    lengths are checked as sent, so the document's maxLength holds.
    """

    def __init__(self, *, strip: bool = False) -> None:
        self._strip = strip

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        validate = _not_blank if self._strip else check_text
        return core_schema.no_info_after_validator_function(validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if json_schema.get("type") == "string":
            json_schema.setdefault("pattern", NOT_BLANK_PATTERN if self._strip else NO_NUL_PATTERN)
        return json_schema


def _not_blank(value: str) -> str:
    stripped = check_text(value).strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


STORABLE = StorableText()
NOT_BLANK = StorableText(strip=True)
