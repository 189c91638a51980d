"""The platform glue each service keeps its own copy of stays the same, but for the recorded
differences.

The services share only `contracts`; the rest of the plumbing (body limit, problem documents,
database errors, heartbeat, tracing, ...) is copied into each. `services/glue.toml` lists the
copied modules and every known difference between the two copies, with its reason. Each pair
is compared with the service names swapped for a placeholder (and the first-party imports put
in one order); this test fails on a difference that is not recorded, and on a recorded one
that no longer exists. A pair may end in a part of its own for each service (`own_from`: the
line that starts it, in both copies); that part is not compared.
"""

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[1]
GLUE = SERVICES / "glue.toml"
NAMES = ("todos", "budget")


@dataclass(frozen=True)
class Difference:
    todos: str
    budget: str

    def show(self) -> str:
        return f"todos:\n{self.todos or '(nothing)'}\nbudget:\n{self.budget or '(nothing)'}"


def normalized(service: str, source: str) -> list[str]:
    """The copy as the other service would read it: names replaced, imports in one order."""
    peer = NAMES[1 - NAMES.index(service)]
    text = re.sub(r"todos[-_]budget", "PROJECT", source)
    text = re.sub(service, "SERVICE", text)
    text = re.sub(service.capitalize(), "Service", text)
    text = re.sub(service.upper(), "SERVICE_", text)
    text = re.sub(peer, "PEER", text)
    return _sort_first_party_imports([line.rstrip() for line in text.splitlines()])


def _sort_first_party_imports(lines: list[str]) -> list[str]:
    """Sort each run of `from SERVICE...`/`from contracts...` imports (ruff orders them by the
    real package name, which the placeholder changes)."""
    out: list[str] = []
    run: list[list[str]] = []
    i = 0
    while i <= len(lines):
        line = lines[i] if i < len(lines) else ""
        if re.match(r"(from|import) (SERVICE|contracts)\b", line):
            block = [line]
            if line.endswith("("):
                while not lines[i].startswith(")"):
                    i += 1
                    block.append(lines[i])
            run.append(block)
        else:
            out.extend(line for block in sorted(run) for line in block)
            run = []
            if i < len(lines):
                out.append(line)
        i += 1
    return out


def differences(module: str, own_from: str | None = None) -> list[Difference]:
    copies = {
        name: normalized(name, (SERVICES / name / module_path(name, module)).read_text())
        for name in NAMES
    }
    if own_from is not None:
        for name, lines in copies.items():
            assert own_from in lines, f"{name}'s {module} lacks the line {own_from!r}"
            copies[name] = lines[: lines.index(own_from)]
    matcher = difflib.SequenceMatcher(None, copies["todos"], copies["budget"], autojunk=False)
    return [
        Difference("\n".join(copies["todos"][i1:i2]), "\n".join(copies["budget"][j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def module_path(service: str, module: str) -> str:
    """`src/<service>/<module>`, or the path as given when it lies outside the package."""
    return module if module.startswith("alembic/") else f"src/{service}/{module}"


def recorded(entry: dict[str, object]) -> list[Difference]:
    found = entry.get("difference", [])
    assert isinstance(found, list)
    for d in found:
        assert str(d.get("reason", "")).strip(), f"{entry['module']}: a difference has no reason"
    return [
        Difference(d.get("todos", "").strip("\n"), d.get("budget", "").strip("\n")) for d in found
    ]


PAIRS = tomllib.loads(GLUE.read_text())["pair"]


@pytest.mark.parametrize("entry", PAIRS, ids=[p["module"] for p in PAIRS])
def test_the_copies_differ_only_as_recorded(entry: dict[str, object]) -> None:
    module = str(entry["module"])
    own_from = entry.get("own_from")
    actual = differences(module, None if own_from is None else str(own_from))
    expected = recorded(entry)
    unrecorded = [d for d in actual if d not in expected]
    gone = [d for d in expected if d not in actual]
    assert not unrecorded, f"{module}: differences not in glue.toml:\n\n" + "\n\n".join(
        d.show() for d in unrecorded
    )
    assert not gone, f"{module}: recorded in glue.toml but no longer there:\n\n" + "\n\n".join(
        d.show() for d in gone
    )


def test_the_comparison_sees_a_drift() -> None:
    """A changed line in one copy is a difference; the service names alone are not."""
    todos = "from contracts.ids import TaskId\nfrom todos.logs import log\nTIMEOUT = 5  # todos\n"
    budget = (
        "from budget.logs import log\nfrom contracts.ids import TaskId\nTIMEOUT = 6  # budget\n"
    )
    matcher = difflib.SequenceMatcher(
        None, normalized("todos", todos), normalized("budget", budget), autojunk=False
    )
    changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    assert changed == [("replace", 2, 3, 2, 3)]


def test_every_listed_module_exists_in_both_services() -> None:
    for entry in PAIRS:
        for name in NAMES:
            assert (SERVICES / name / module_path(name, str(entry["module"]))).is_file()
