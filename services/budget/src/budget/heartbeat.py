"""Worker liveness from a heartbeat file: the worker's loop writes it, a probe command reads it.

    python -m budget.heartbeat FILE [--max-age 60] [--require broker=ok]

exits 0 when FILE was written less than `max-age` seconds ago (and holds each required status),
else 1 with the reason: the exec probe of compose and Kubernetes. A worker serves no HTTP of its
own, and a metrics thread that answers proves nothing about the loop that should be turning.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path


class Heartbeat:
    """Writes {"at": <unix time>, **status} atomically, at most once per `min_interval`."""

    def __init__(self, path: str | None, *, min_interval: float = 1.0) -> None:
        self._path = Path(path) if path else None
        self._min_interval = min_interval
        self._last: tuple[float, dict[str, str]] = (0.0, {})

    def beat(self, **status: str) -> None:
        """Record one turn of the loop (a status change is written at once)."""
        if self._path is None:
            return
        now = time.time()
        last_at, last_status = self._last
        if now - last_at < self._min_interval and status == last_status:
            return
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps({"at": now, **status}))
            tmp.replace(self._path)
        except OSError:
            return  # a full or read-only disk must not stop the worker; the probe will say so
        self._last = (now, status)


def problem(path: Path, max_age: float, require: Mapping[str, str], now: float) -> str | None:
    """Why the heartbeat at `path` is not healthy, or None when it is."""
    try:
        beat = json.loads(path.read_text())
        age = now - float(beat["at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"no heartbeat in {path}: {exc}"
    if age > max_age:
        return f"last heartbeat {age:.0f} s ago (> {max_age:.0f} s)"
    for key, wanted in require.items():
        if beat.get(key) != wanted:
            return f"{key} is {beat.get(key)!r}, not {wanted!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="check a worker's heartbeat file")
    parser.add_argument("file", type=Path)
    parser.add_argument("--max-age", type=float, default=60.0)
    parser.add_argument("--require", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    require = dict(item.split("=", 1) for item in args.require)
    found = problem(args.file, args.max_age, require, time.time())
    print(found or "ok", file=sys.stderr if found else sys.stdout)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
