"""The composition root and the service layer stay free of the web edge."""

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "budget"


def test_bootstrap_imports_no_entrypoint_and_no_web_framework() -> None:
    probe = (
        "import sys, budget.bootstrap; "
        "bad = sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('fastapi', 'starlette') or m.startswith('budget.entrypoints')); "
        "print(','.join(bad))"
    )
    result = subprocess.run(  # a fresh interpreter: nothing imported by other tests
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_service_layer_names_no_http_status() -> None:
    for path in (SRC / "service_layer").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names]
                assert not any(
                    n.split(".")[0] in ("fastapi", "starlette", "http") for n in names
                ), path
            if isinstance(node, ast.Constant) and isinstance(node.value, int):
                assert not 400 <= node.value < 600, f"{path}: {node.value} looks like a status"
