"""The heartbeat file and its probe: fresh and as required, or a reason."""

import time
from pathlib import Path

from todos.heartbeat import Heartbeat, main, problem


def test_a_fresh_beat_passes_and_a_stale_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    Heartbeat(str(path)).beat(broker="ok")
    assert problem(path, 60, {}, time.time()) is None
    assert problem(path, 60, {}, time.time() + 61) is not None
    assert main([str(path), "--max-age", "60", "--require", "broker=ok"]) == 0


def test_a_required_status_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    Heartbeat(str(path)).beat(broker="down")
    assert problem(path, 60, {"broker": "ok"}, time.time()) == "broker is 'down', not 'ok'"
    assert main([str(path), "--require", "broker=ok"]) == 1


def test_no_file_means_not_alive(tmp_path: Path) -> None:
    assert main([str(tmp_path / "missing")]) == 1


def test_a_status_change_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    heartbeat = Heartbeat(str(path), min_interval=3600)
    heartbeat.beat(broker="ok")
    heartbeat.beat(broker="down")
    assert problem(path, 60, {"broker": "down"}, time.time()) is None
