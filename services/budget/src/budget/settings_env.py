"""The process's environment beside its settings: `BUDGET_*` names that are no setting (reported
at start, else silently ignored) and `--help` listing every setting with its default."""

import argparse
import difflib
import os
import re
from collections.abc import Mapping, Sequence

import structlog

from budget.config import ENV_PREFIX, Settings

# What deployment tooling sets beside our settings, never reported as unknown: Kubernetes'
# service links (and Docker's legacy links) for a Service named budget-*: BUDGET_API_SERVICE_HOST,
# BUDGET_API_SERVICE_PORT[_<name>], BUDGET_API_PORT=tcp://..., BUDGET_API_PORT_<port>_TCP[_ADDR...].
_SERVICE_LINK = re.compile(
    r"_SERVICE_HOST$|_SERVICE_PORT(_[A-Z0-9_]+)?$|_PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?$"
)
_LINK_URL = re.compile(r"^(tcp|udp|sctp)://")
# The test suites' own variables (BUDGET_TEST_DATABASE_URL): theirs, not the service's.
TEST_PREFIX = f"{ENV_PREFIX}TEST_"


def setting_names() -> dict[str, str]:
    """The environment name of every setting, with its field."""
    return {f"{ENV_PREFIX}{field.upper()}": field for field in Settings.model_fields}


def _closest(unknown: str) -> str | None:
    """The known name `unknown` most likely meant: one it extends (a unit added, as in
    HOLD_TTL_SECONDS), else the closest spelling. Compared without the shared prefix."""
    fields = [k.removeprefix(ENV_PREFIX) for k in setting_names()]
    wanted = unknown.removeprefix(ENV_PREFIX)
    extended = [f for f in fields if wanted.startswith(f"{f}_")]
    close = sorted(extended, key=len)[-1:] or difflib.get_close_matches(wanted, fields, n=1)
    return f"{ENV_PREFIX}{close[0]}" if close else None


def unknown_settings(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The variables with our prefix that name no setting, each with the closest known name."""
    known = setting_names()
    found = []
    for name, value in sorted(environ.items()):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or _SERVICE_LINK.search(upper):
            continue
        if upper.startswith(TEST_PREFIX):
            continue
        if upper.endswith("_PORT") and _LINK_URL.match(value):
            continue
        found.append(f"{name} (did you mean {close}?)" if (close := _closest(upper)) else name)
    return found


def report_unknown_settings(log: structlog.typing.FilteringBoundLogger) -> list[str]:
    """Warn once at start about misspelt or retired settings: they are otherwise ignored."""
    unknown = unknown_settings()
    if unknown:
        log.warning("unknown_settings", ignored=unknown)
    return unknown


def command_line(prog: str, description: str | None, argv: Sequence[str] | None = None) -> None:
    """`--help` for a process configured only by the environment: it lists the settings."""
    listed = "\n".join(
        f"  {name}={Settings.model_fields[field].default!r}"
        for name, field in setting_names().items()
    )
    argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Settings (environment variables, with their defaults; docs/configuration.md "
        f"says what each means):\n{listed}",
    ).parse_args(argv)
