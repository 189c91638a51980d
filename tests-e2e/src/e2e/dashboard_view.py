"""Render the committed Grafana dashboard's panels from a Prometheus, as one static HTML page.

    python -m e2e.dashboard_view --prometheus http://127.0.0.1:9090 --minutes 10 > dashboard.html

Each panel runs its own PromQL (the dashboard JSON's targets) through Prometheus'
`query_range` and draws the series as lines, laid out by the panels' `gridPos`. For where no
Grafana runs: the dashboard picture of docs/operations.md is this page in headless Chromium.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy/grafana/dashboards/todos-budget.json"
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]
PAGE, GAP, H = 1160, 8, 170  # page width, gap between panels, plot height (px)


def _legend(template: str, labels: dict[str, str]) -> str:
    out = template
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value)
    return out or json.dumps(labels)


def query(prometheus: str, expr: str, start: float, end: float, step: float) -> list[Any]:
    """The matrix Prometheus answers for `expr` over [start, end]."""
    r = httpx.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": step},
        timeout=10,
    )
    r.raise_for_status()
    result: list[Any] = r.json()["data"]["result"]
    return result


def _svg(series: list[tuple[str, list[tuple[float, float]]]], width: int, unit: str) -> str:
    points = [p for _, pts in series for p in pts if math.isfinite(p[1])]
    if not points:
        empty = '<text x="8" y="20" fill="#999">no data</text>'
        return f'<svg width="{width}" height="{H}">{empty}</svg>'
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    top = max(max(p[1] for p in points), 1e-9) * 1.1
    lines = []
    for i, (_, pts) in enumerate(series):
        xy = " ".join(
            f"{40 + (t - t0) / max(t1 - t0, 1) * (width - 50):.1f},"
            f"{H - 20 - v / top * (H - 30):.1f}"
            for t, v in pts
            if math.isfinite(v)
        )
        lines.append(
            f'<polyline fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1.6" '
            f'points="{xy}"/>'
        )
    axis = (
        f'<text x="2" y="14" font-size="10" fill="#888">{top / 1.1:.3g} {unit}</text>'
        f'<text x="2" y="{H - 22}" font-size="10" fill="#888">0</text>'
        f'<line x1="40" y1="{H - 20}" x2="{width - 10}" y2="{H - 20}" stroke="#ddd"/>'
    )
    return f'<svg width="{width}" height="{H}">{axis}{"".join(lines)}</svg>'


def render(dashboard: dict[str, Any], prometheus: str, minutes: float) -> str:
    """The page: every panel, in the dashboard's order and widths."""
    end = time.time()
    start = end - minutes * 60
    step = max(minutes * 60 / 200, 5)
    cells = []
    for panel in dashboard["panels"]:
        series: list[tuple[str, list[tuple[float, float]]]] = []
        for target in panel["targets"]:
            for item in query(prometheus, target["expr"], start, end, step):
                pts = [(float(t), float(v)) for t, v in item["values"]]
                series.append((_legend(target.get("legendFormat", ""), item["metric"]), pts))
        width = int(PAGE * panel["gridPos"]["w"] / 24) - GAP - 14  # 24 grid columns per row
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        legend = "".join(
            f'<span style="color:{PALETTE[i % len(PALETTE)]}">&#9632;</span> {html.escape(name)} '
            for i, (name, _) in enumerate(series[:8])
        )
        cells.append(
            f'<div class="panel" style="width:{width}px"><div class="title">'
            f"{html.escape(panel['title'])}</div>{_svg(series, width, unit)}"
            f'<div class="legend">{legend}</div></div>'
        )
    return f"""<!doctype html><meta charset="utf-8"><title>{html.escape(dashboard["title"])}</title>
<style>
body{{font:12px system-ui,sans-serif;background:#111217;color:#ccc;margin:12px;width:{PAGE}px}}
h1{{font-size:16px;margin:0 0 8px;color:#eee}} .sub{{color:#888;margin-bottom:10px}}
.grid{{display:flex;flex-wrap:wrap;gap:{GAP}px}}
.panel{{background:#181b1f;border:1px solid #2a2d33;border-radius:4px;padding:6px}}
.title{{color:#eee;font-weight:600;margin-bottom:2px}} .legend{{color:#aaa;font-size:11px}}
</style>
<h1>{html.escape(dashboard["title"])}</h1>
<div class="sub">deploy/grafana/dashboards/todos-budget.json, each panel's PromQL against
{html.escape(prometheus)}, last {minutes:g} min</div>
<div class="grid">{"".join(cells)}</div>
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prometheus", default="http://127.0.0.1:9090")
    p.add_argument("--minutes", type=float, default=10)
    args = p.parse_args()
    sys.stdout.write(render(json.loads(DASHBOARD.read_text()), args.prometheus, args.minutes))


if __name__ == "__main__":
    main()
