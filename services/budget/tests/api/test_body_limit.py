"""A body over the limit is refused with 413 problem+json while it streams in, never read whole.

The real app under uvicorn on a loopback socket, sent to by hand: a declared length over the
limit, and a chunked body of 20 MiB (as the gateway forwards an HTTP/2 body without a length).
"""

import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from budget.config import Settings
from budget.entrypoints.app import create_app
from tests.conftest import KeyPair

LIMIT = 1024 * 1024
HUGE = 20 * LIMIT
CHUNK = 64 * 1024
BUFFER = 64 * 1024
PATHS = [("/api/budget/credits", True), ("/hooks/todos.before_complete_task", False)]


@pytest.fixture(scope="module")
def server(migrated_database: str) -> Iterator[int]:
    settings = Settings(environment="test", database_url=migrated_database, log_level="WARNING")
    sock = socket.socket()
    # Small kernel buffers (inherited by accepted sockets): what the client got to send is
    # close to what the app read, not what the loopback buffered.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), lifespan="on", log_level="warning", ws="none")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive(), "the app stopped during start-up"
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(timeout=15)
    sock.close()


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    raw = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _length(raw):
        data = conn.recv(65536)
        if not data:
            break
        raw += data
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _assert_413(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, body
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == 413
    assert problem["code"] == "payload_too_large"


def _auth(keys: KeyPair, admin: bool) -> dict[str, str]:
    roles = ["budget:admin"] if admin else None
    return {"Authorization": f"Bearer {keys.token(roles=roles)}"}


@pytest.mark.parametrize(("path", "admin"), PATHS)
def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    server: int, keys: KeyPair, path: str, admin: bool
) -> None:
    with socket.create_connection(("127.0.0.1", server)) as conn:
        conn.sendall(_head(path, {**_auth(keys, admin), "Content-Length": str(HUGE)}))
        _assert_413(*_answer(conn))


@pytest.mark.parametrize(("path", "admin"), PATHS)
def test_a_chunked_body_over_the_limit_is_refused_while_it_streams_in(
    server: int, keys: KeyPair, path: str, admin: bool
) -> None:
    sent = 0
    chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    with socket.socket() as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
        conn.connect(("127.0.0.1", server))
        conn.sendall(_head(path, {**_auth(keys, admin), "Transfer-Encoding": "chunked"}))
        try:
            while sent < HUGE:
                if select.select([conn], [], [], 0)[0]:
                    break  # the server answered: stop sending
                conn.sendall(chunk)
                sent += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass  # it closed the connection on us after answering
        _assert_413(*_answer(conn))
    # Answered once the limit was passed, not after the whole body: the rest was never read.
    assert sent < 2 * LIMIT, f"sent {sent} bytes before the answer"
