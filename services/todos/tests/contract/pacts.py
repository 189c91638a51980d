"""Where the pacts live and the matchers both of todos' pacts share."""

from pathlib import Path

from pact import match

PACT_DIR = Path(__file__).resolve().parents[4] / "contracts" / "pacts"

# RFC 3339 as pydantic writes it: the fraction is left out when it is zero, so a fixed
# strftime pattern (match.datetime) would fail one time in a million; a regex does not.
RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def rfc3339(example: str) -> object:
    """A matcher for an RFC 3339 date-time, with `example` written into the pact."""
    return match.regex(example, regex=RFC3339)
