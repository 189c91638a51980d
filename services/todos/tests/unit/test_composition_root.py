"""The composition root depends on adapters and the service layer, never on the web edge."""

import ast
from pathlib import Path

import todos.bootstrap

FORBIDDEN = ("todos.entrypoints", "fastapi", "starlette")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_bootstrap_imports_no_entrypoint_and_no_web_framework() -> None:
    imported = _imports(Path(todos.bootstrap.__file__))
    assert "todos.adapters.hook_client" in imported  # the walk sees the real imports
    assert not [name for name in imported if name.startswith(FORBIDDEN)]


def test_the_service_layer_and_domain_import_no_web_framework_or_driver() -> None:
    root = Path(todos.bootstrap.__file__).parent
    for folder in ("domain", "service_layer"):
        for module in (root / folder).glob("*.py"):
            bad = [
                name
                for name in _imports(module)
                if name.startswith((*FORBIDDEN, "sqlalchemy", "asyncpg", "httpx", "aiohttp"))
            ]
            assert not bad, f"{module.name} imports {bad}"
