"""Render received spans (the JSON `TRACE_DUMP` writes) as a one-page waterfall, Jaeger-style.

    python -m e2e.trace_view trace.json > trace.html

For where no Jaeger runs: the trace picture of docs/operations.md is this page in headless Chromium.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path
from typing import Any

COLOURS = {
    "todos-api": "#4e79a7",
    "budget-api": "#f28e2b",
    "todos-relay": "#59a14f",
    "budget-consumer": "#e15759",
}


def _ordered(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Depth-first, children by start time; a span whose parent was not received is a root."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for s in sorted(spans, key=lambda s: s["start_ns"]):
        if s["parent_id"] in ids:
            children.setdefault(s["parent_id"], []).append(s)
        else:
            roots.append(s)
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        out.append((depth, span))
        for child in children.get(span["span_id"], []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return out


def render(spans: list[dict[str, Any]]) -> str:
    """The HTML page."""
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    total = max(end - start, 1)
    rows = []
    for depth, s in _ordered(spans):
        left = 100 * (s["start_ns"] - start) / total
        width = max(100 * (s["end_ns"] - s["start_ns"]) / total, 0.3)
        ms = (s["end_ns"] - s["start_ns"]) / 1e6
        colour = COLOURS.get(s["service"], "#999")
        rows.append(
            f'<tr><td class="name" style="padding-left:{8 + 14 * depth}px">'
            f'<span class="svc" style="background:{colour}">{html.escape(s["service"])}</span> '
            f"{html.escape(s['name'])} <span class=kind>{s['kind']}</span></td>"
            f'<td class="bar"><div style="margin-left:{left:.3f}%;width:{width:.3f}%;'
            f'background:{colour}"></div></td><td class="ms">{ms:.2f} ms</td></tr>'
        )
    trace_id = spans[0]["trace_id"]
    services = sorted({s["service"] for s in spans})
    return f"""<!doctype html><meta charset="utf-8"><title>trace {trace_id}</title>
<style>
body{{font:13px system-ui,sans-serif;margin:16px;color:#222}}
h1{{font-size:18px;margin:0 0 4px}} .sub{{color:#666;margin-bottom:12px}}
table{{border-collapse:collapse;width:100%}} td{{border-bottom:1px solid #eee;padding:3px 6px}}
td.name{{white-space:nowrap;width:46%}} td.ms{{text-align:right;width:80px;color:#555}}
td.bar div{{height:12px;border-radius:2px;min-width:2px}}
.svc{{color:#fff;border-radius:3px;padding:0 5px;font-size:11px}} .kind{{color:#999;font-size:11px}}
</style>
<h1>One completion, one trace</h1>
<div class="sub">trace {trace_id} &middot; {len(spans)} spans &middot; {len(services)} services
({", ".join(services)}) &middot; {total / 1e6:.1f} ms end to end</div>
<table>{"".join(rows)}</table>
"""


def main() -> None:
    spans = json.loads(Path(sys.argv[1]).read_text())
    sys.stdout.write(render(spans))


if __name__ == "__main__":
    main()
