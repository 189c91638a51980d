"""The table `make bench` prints: the system next to the inline peer, from the same run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from e2e.bench.load import Outcome
from e2e.bench.procs import Memory


@dataclass
class Side:
    """Everything measured for one contender (the system, or one peer variant)."""

    name: str
    closed: Outcome | None = None
    open: Outcome | None = None
    cpu_seconds: float = 0.0
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    completions: int = 0  # 200 answers while the CPU was metered
    memory: dict[str, Memory] = field(default_factory=dict)
    lag_closed: tuple[float, float] | None = None  # p50, p99 ms
    lag_open: tuple[float, float] | None = None
    drain_per_second: float | None = None
    backlog: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def cpu_ms_per_completion(self) -> float:
        """All metered processes' CPU divided by the completions answered 200."""
        return self.cpu_seconds * 1000 / self.completions if self.completions else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile `p` (0-100); 0 without data."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]


def _ms(pair: tuple[float, float] | None) -> str:
    return "n/a" if pair is None else f"{pair[0]:.0f} / {pair[1]:.0f}"


def _lat(o: Outcome | None) -> str:
    return "n/a" if o is None else f"{o.percentile(50):.0f} / {o.percentile(99):.0f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _share(s: Side, process: str) -> str:
    """One process's part: ms per completion, or CPU seconds when nothing completed."""
    if process not in s.cpu_by_process:
        return ""
    used = s.cpu_by_process[process]
    return f"{used * 1000 / s.completions:.1f}" if s.completions else f"{used:.1f} s"


def table(system: Side, peers: Sequence[Side], peer: Side, rate: float) -> str:
    """Rows of figures, one column per contender, the last the system/peer ratio."""
    sides = [system, *peers]
    rows: list[list[str]] = [["", *(s.name for s in sides), f"system / {peer.name}"]]

    def add(label: str, cells: list[str], ratio: str = "") -> None:
        rows.append([label, *cells, ratio])

    def closed_rate(s: Side) -> float:
        return s.closed.ok_per_second if s.closed else 0.0

    add(
        "completions/s, closed loop c=32",
        [f"{closed_rate(s):.0f}" for s in sides],
        _ratio(closed_rate(system), closed_rate(peer)),
    )
    add("  answers", [s.closed.statuses_text() if s.closed else "n/a" for s in sides])
    add("p50 / p99 ms, closed loop", [_lat(s.closed) for s in sides])
    add(f"p50 / p99 ms, open loop {rate:.0f}/s", [_lat(s.open) for s in sides])
    add("  answers", [s.open.statuses_text() if s.open else "n/a" for s in sides])
    add("event→debit lag p50 / p99 ms, open loop", [_ms(s.lag_open) for s in sides])
    add("event→debit lag p50 / p99 ms, closed loop", [_ms(s.lag_closed) for s in sides])
    add(
        "consumer debits/s on a backlog",
        [
            f"{s.drain_per_second:.0f} (of {s.backlog})" if s.drain_per_second else "n/a"
            for s in sides
        ],
    )
    add(
        "CPU ms per completion, all processes",
        [f"{s.cpu_ms_per_completion:.1f}" if s.completions else "n/a" for s in sides],
        _ratio(system.cpu_ms_per_completion, peer.cpu_ms_per_completion),
    )
    add("  CPU s in all (load phases)", [f"{s.cpu_seconds:.1f}" for s in sides])
    for n in sorted({n for s in sides for n in s.cpu_by_process}):
        add(f"  {n}", [_share(s, n) for s in sides])
    add("RSS MiB now / peak", ["" for _ in sides])
    for n in sorted({n for s in sides for n in s.memory}):
        add(
            f"  {n}",
            [
                f"{s.memory[n].rss_mib:.0f} / {s.memory[n].peak_mib:.0f}" if n in s.memory else ""
                for s in sides
            ],
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
