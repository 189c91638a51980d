"""Write one service's OpenAPI document (from its app factory, no I/O) for the UI's typed client.

    python services/web/scripts/export_openapi.py todos services/web/openapi/todos.json

One service per process: both apps register metrics in the default Prometheus registry.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def main(service: str, out: str) -> int:
    """Import `<service>.entrypoints.app`, build the app, dump its `openapi()`."""
    module = importlib.import_module(f"{service}.entrypoints.app")
    document = module.create_app().openapi()
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = Path(out)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
