"""Write docs/configuration.md from the settings classes: every setting of every process.

    python scripts/gen_configuration.py            # (make configuration) rewrite the page
    python scripts/gen_configuration.py --check    # (make validate) exit 1 when it is stale

Sources: the services' `Settings` (pydantic-settings: name, default, `description`), the
launcher's `KNOBS` and `ALSO_READ` (deploy/local/options.py), the gateway's header in
deploy/gateway/haproxy.cfg (every variable its body reads must be described there) and the
commented variables of .env.example. A setting without a description fails the generation.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "configuration.md"
GATEWAY = ROOT / "deploy" / "gateway" / "haproxy.cfg"
ENV_EXAMPLE = ROOT / ".env.example"
sys.path.insert(0, str(ROOT / "deploy" / "local"))

PROCESSES = {
    "todos": "todos-api, todos-relay, todos-parked and todos' migrations (alembic)",
    "budget": "budget-api, budget-consumer, budget-dlq, budget-topology and budget's migrations",
}


class MissingDescription(Exception):
    """A setting has no description: add one where it is declared."""


def _iso_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}H" if hours else "", f"{minutes}M" if minutes else ""]
    return "PT" + "".join(parts) + (f"{seconds}S" if seconds or not any(parts) else "")


def _default(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{_iso_duration(value)}`"
    if isinstance(value, list):
        if any(isinstance(v, SecretStr) for v in value):
            return "the development stand-in (refused outside development)"
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _service_rows(service: str) -> Iterator[str]:
    module = __import__(f"{service}.config", fromlist=["Settings"])
    prefix: str = module.ENV_PREFIX
    fields: dict[str, FieldInfo] = module.Settings.model_fields
    for name, field in fields.items():
        if not field.description:
            raise MissingDescription(f"{service}: setting {name} has no description")
        env = f"{prefix}{name.upper()}"
        yield f"| `{env}` | {_default(field.default)} | {_cell(field.description)} |"


def _launcher_rows() -> Iterator[str]:
    import options

    for knob in options.KNOBS:
        env = f"`{knob.env}`" if knob.env else "(flag only)"
        default = "off" if knob.kind is bool and knob.default in (None, "false") else None
        if default is None:
            default = f"`{knob.default}`" if knob.default else "(none)"
        if knob.flag == "--dev-dir":
            default = "`.dev` in the checkout"
        yield f"| {env} | `{knob.flag}` | {default} | {_cell(knob.help)} |"
    for env, meaning in options.ALSO_READ.items():
        yield f"| `{env}` | | | {_cell(meaning)} |"


def gateway_settings(text: str) -> list[tuple[str, str]]:
    """The header's (names, meaning) entries; fails when the body reads a variable it omits."""
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line[1:])
    entries: list[tuple[str, str]] = []
    names_re = r"[A-Z][A-Z0-9_]*(?:(?:, | \.\. )[A-Z][A-Z0-9_]*)*"
    for line in header:
        if named := re.match(rf"\s{{3}}({names_re})\s{{2,}}(\S.*)", line):
            entries.append((named[1], named[2]))
        elif entries and re.match(r"\s{8,}\S", line):
            names, meaning = entries[-1]
            entries[-1] = (names, f"{meaning} {line.strip()}")
    described = set()
    for names, _ in entries:
        for prefix, first, last in re.findall(r"([A-Z_]+_)(\d+) \.\. [A-Z_]+_(\d+)", names):
            described |= {f"{prefix}{i}" for i in range(int(first), int(last) + 1)}
        described |= set(re.findall(r"[A-Z][A-Z0-9_]*", names))
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", body))
    read |= set(re.findall(r"defined\(([A-Z][A-Z0-9_]*)\)", body))
    missing = sorted(read - described)
    if missing:
        raise MissingDescription(f"{GATEWAY.name} reads {missing} but its header omits them")
    return entries


def env_example_settings(text: str) -> list[tuple[str, str]]:
    """The variables of .env.example, grouped under the comment block right above them."""
    found: list[tuple[str, str]] = []
    comment: list[str] = []
    group: list[str] = []
    for line in [*text.splitlines(), ""]:
        if match := re.match(r"([A-Z][A-Z0-9_]*)=", line):
            group.append(match[1])
            continue
        if group:
            found.append((", ".join(group), " ".join(c for c in comment if c)))
            group, comment = [], []
        if line.startswith("#"):
            comment.append(line.lstrip("# ").rstrip())
        else:
            comment = []
    return found


def render() -> str:
    out = [
        "# Configuration",
        "",
        "<!-- Generated by scripts/gen_configuration.py from the settings classes: edit the",
        "     descriptions there, then `make configuration`. `make validate` fails when this",
        "     page differs from what they say. -->",
        "",
        "Every process reads its settings from environment variables only. Each service's "
        "names carry its prefix: `TODOS_` for todos' processes, `BUDGET_` for budget's; the "
        "same names in the launcher (`make run`), docker-compose.yml, the Kubernetes "
        "manifests and the test harnesses. Names are case-insensitive; durations are ISO 8601 "
        "(`PT10M`), lists are JSON.",
        "",
        "A variable with a service's prefix that names none of its settings (a typo such as "
        "`TODOS_PROT`, or a retired name) is ignored, and reported once at start: a warning "
        "`unknown_settings` lists each with the closest known name. Variables that deployment "
        "tooling sets beside the settings are not reported: Kubernetes' service links "
        "(`TODOS_API_SERVICE_HOST`, `TODOS_API_PORT=tcp://…`, `TODOS_API_PORT_8001_TCP_ADDR`, "
        "…) and Docker's legacy links of the same shape, and the test suites' own "
        "`TODOS_TEST_*` / `BUDGET_TEST_*` (their databases). The manifests turn service links off "
        "(`enableServiceLinks: false`) on the services' pods all the same, so that no Service "
        "name can put a value beside a setting. Tracing follows the standard "
        "`OTEL_EXPORTER_OTLP_*` and `OTEL_SERVICE_NAME` variables, unprefixed.",
        "",
    ]
    for service, processes in PROCESSES.items():
        out += [
            f"## {service} (`{service.upper()}_`)",
            "",
            f"Read by {processes}.",
            "",
            "| Variable | Default | Meaning |",
            "|---|---|---|",
            *_service_rows(service),
            "",
        ]
    out += [
        "## The launcher (`make run`, deploy/local/stack.py)",
        "",
        "Each option has a flag and a variable; it passes the services' settings on under "
        "their own names, and every `TODOS_*` / `BUDGET_*` variable of its environment too "
        "(except `TODOS_DB` and `BUDGET_DB`, which are its own).",
        "",
        "| Variable | Flag | Default | Meaning |",
        "|---|---|---|---|",
        *_launcher_rows(),
        "",
        "## The gateway (deploy/gateway/haproxy.cfg)",
        "",
        "The same file in `make run`, compose and Kubernetes; these variables fill it in.",
        "",
        "| Variable | Meaning |",
        "|---|---|",
        *(
            f"| `{names}` | {_cell(meaning)} |"
            for names, meaning in gateway_settings(GATEWAY.read_text())
        ),
        "",
        "## docker compose (`.env`, from .env.example)",
        "",
        "Compose fills docker-compose.yml in from these; both services get `ENVIRONMENT` and "
        "`LOG_LEVEL` as their own `*_ENVIRONMENT` and `*_LOG_LEVEL`.",
        "",
        "| Variable | Meaning |",
        "|---|---|",
        *(
            f"| `{name}` | {_cell(meaning)} |"
            for name, meaning in env_example_settings(ENV_EXAMPLE.read_text())
        ),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the page (default: docs/)")
    args = parser.parse_args(argv)
    try:
        page = render()
    except MissingDescription as exc:
        print(f"gen_configuration: {exc}", file=sys.stderr)
        return 1
    if not args.check:
        args.output.write_text(page)
        print(f"wrote {args.output}")
        return 0
    current = args.output.read_text() if args.output.exists() else ""
    if current == page:
        print(f"{args.output.name}: current")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(), page.splitlines(), "committed", "generated", lineterm="", n=0
    )
    print("\n".join(list(diff)[:40]), file=sys.stderr)
    print(f"{args.output} is stale: run `make configuration` and commit it", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
