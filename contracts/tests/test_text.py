import re
import sys
from typing import Annotated

import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from contracts.text import NO_NUL_PATTERN, NOT_BLANK, NOT_BLANK_PATTERN, STORABLE

Plain = TypeAdapter(Annotated[str, StringConstraints(max_length=5), STORABLE])
Name = TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=5), NOT_BLANK])
SPACES = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]


@pytest.mark.parametrize("value", ["a\x00", "\ud800", "x\udfffy"])
def test_nul_and_lone_surrogates_are_refused(value: str) -> None:
    for adapter in (Plain, Name):
        with pytest.raises(ValidationError):
            adapter.validate_python(value)
    with pytest.raises(ValidationError, match="NUL"):
        TypeAdapter(Annotated[str, STORABLE]).validate_python(value)


def test_plain_text_passes_unchanged() -> None:
    assert Plain.validate_python(" é\u2028 ") == " é\u2028 "


@pytest.mark.parametrize("value", [" ", "\x1f", "\u3000 \x85"])
def test_blank_is_refused_with_a_clear_message(value: str) -> None:
    with pytest.raises(ValidationError, match="must not be blank"):
        Name.validate_python(value)


def test_not_blank_strips_after_the_length_check() -> None:
    assert Name.validate_python(" ab ") == "ab"
    with pytest.raises(ValidationError, match="at most 5"):
        Name.validate_python("  abcd")


def test_the_documented_patterns_say_what_the_validators_do() -> None:
    blank = re.compile(NOT_BLANK_PATTERN)
    assert not any(blank.search(c) for c in SPACES)
    assert blank.search(" a ")
    assert not blank.search("a\x00")
    assert not re.search(NO_NUL_PATTERN, "a\x00")
    assert Name.json_schema()["pattern"] == NOT_BLANK_PATTERN
    assert Plain.json_schema()["pattern"] == NO_NUL_PATTERN
