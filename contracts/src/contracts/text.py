"""Text on the wire: strings every JSON encoder and PostgreSQL `text` can carry (SPEC section 9).

A JSON string may spell U+0000 or a lone UTF-16 surrogate ("\\ud800"); PostgreSQL cannot store
the first and UTF-8 cannot encode the second, so both are refused where input enters.
"""

import re
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# Documented in the JSON Schema, so clients (and fuzzers) know NUL is not text.
NO_NUL_PATTERN = "^[^\\u0000]*$"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_text(value: str) -> str:
    """`value` unchanged, or `ValueError` if it holds NUL or an unpaired surrogate."""
    if _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL (U+0000) or an unpaired UTF-16 surrogate")
    return value


class StorableText:
    """`Annotated[str, <constraints>, STORABLE]`: adds `check_text`, documented as a pattern.

    Put it last, so length limits and patterns keep their own messages and JSON Schema.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(check_text, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if json_schema.get("type") == "string":
            json_schema.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema


STORABLE = StorableText()
Text = Annotated[str, STORABLE]
"""A string of input without other constraints."""
