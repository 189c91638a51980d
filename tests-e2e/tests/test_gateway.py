"""What the gateway refuses on its own: bad tokens, internal and non-canonical paths,
big bodies, floods; and the request id it guarantees."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import re
import select
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from e2e.identity import TokenMaker
from e2e.rawhttp import send_head
from e2e.stack import ROOT, RunningStack
from tests.conftest import CallerFactory

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def bad_tokens(tokens: TokenMaker) -> dict[str, str]:
    """Every way a bearer token must fail at the edge."""
    owner = uuid.uuid4()
    unsigned = {"sub": str(owner), "aud": "todos-budget", "exp": int(time.time()) + 600}
    return {
        "expired": tokens.token(owner, expires_in=-5),
        "no exp": tokens.token(owner, exp=None),
        "wrong audience": tokens.token(owner, aud="someone-else"),
        "no audience": tokens.token(owner, aud=None),
        "signed by another key": tokens.token(owner, key=OTHER_KEY),
        "alg none": jwt.encode(unsigned, None, algorithm="none"),
        "HS256": jwt.encode(unsigned, "x" * 32, algorithm="HS256"),
        "no sub": tokens.token(owner, sub=None),
        "garbage": "not.a.jwt",
        "tampered payload": _tamper(tokens.token(owner)),
    }


def _tamper(token: str) -> str:
    header, _, signature = token.split(".")
    other = jwt.encode(
        {"sub": str(uuid.uuid4()), "aud": "todos-budget", "exp": 9999999999}, "k" * 32
    )
    return ".".join([header, other.split(".")[1], signature])


@pytest.fixture
async def http(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"]
    assert body["detail"]


@pytest.mark.parametrize("path", ["/api/todos/tasks", "/api/budget/balances"])
async def test_requests_without_a_valid_token_get_401(
    http: httpx.AsyncClient, tokens: TokenMaker, path: str
) -> None:
    assert_problem(await http.get(path), 401)
    assert_problem(await http.get(path, headers={"Authorization": "Basic dTpw"}), 401)
    for name, token in bad_tokens(tokens).items():
        response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert_problem(response, 401)


async def test_a_list_audience_that_names_us_is_accepted(
    http: httpx.AsyncClient, tokens: TokenMaker
) -> None:
    token = tokens.token(uuid.uuid4(), aud=["other", "todos-budget"])
    response = await http.get("/api/todos/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


INTERNAL_OR_CRAFTED = [
    "/index.html",
    "/assets/../hooks/todos.before_complete_task",
    "/app/..%2fapi/todos/tasks",
    "/hooks/todos.before_complete_task",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/api/todos",
    "/api/todos/../hooks/todos.before_complete_task",
    "/api/todos/%2e%2e/hooks/todos.before_complete_task",
    "/api/todos/%2E%2E/healthz",
    "/api/budget/%2e%2e/hooks/todos.before_complete_task",
    "/api/budget/..%2fhooks/todos.before_complete_task",
    "/api/todos/.%2e/metrics",
    "/api/todos/./tasks",
    "/api/todos/tasks/..",
    "//hooks/todos.before_complete_task",
    "/api/todos//tasks",
    "/api/todos/%2ftasks",
    "/api/todos/%5c..%5chooks",
    "/api/todos/%252e%252e/hooks",
    "/api/todos\\..\\hooks",
    "/API/todos/tasks",
]


@pytest.mark.parametrize("path", INTERNAL_OR_CRAFTED)
async def test_internal_and_non_canonical_paths_get_404(
    http: httpx.AsyncClient, tokens: TokenMaker, path: str
) -> None:
    headers = {"Authorization": f"Bearer {tokens.token(uuid.uuid4(), admin=True)}"}
    for method in ("GET", "POST"):
        # Send the request target byte for byte: httpx would otherwise normalise it.
        request = http.build_request(method, "/", headers=headers, content=b"{}")
        request.extensions["target"] = path.encode()
        assert_problem(await http.send(request), 404)


async def test_bodies_over_one_mebibyte_get_413(
    stack: RunningStack, http: httpx.AsyncClient, tokens: TokenMaker
) -> None:
    headers = {
        "Authorization": f"Bearer {tokens.token(uuid.uuid4())}",
        "Content-Type": "application/json",
    }
    # Refused on the declared length, before any of the body is read.
    big = {**headers, "Content-Length": str(1024 * 1024 + 1)}
    answer = await send_head(stack.config.gateway_port, "POST", "/api/todos/tasks", big)
    assert answer.status == 413
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["status"] == 413
    fits = b'{"title": "small", "description": "' + b"y" * 1000 + b'"}'
    assert (await http.post("/api/todos/tasks", headers=headers, content=fits)).status_code == 201


async def test_chunked_bodies_get_411(stack: RunningStack, tokens: TokenMaker) -> None:
    headers = {
        "Authorization": f"Bearer {tokens.token(uuid.uuid4())}",
        "Transfer-Encoding": "chunked",
    }
    answer = await send_head(stack.config.gateway_port, "POST", "/api/todos/tasks", headers)
    assert answer.status == 411
    assert answer.json()["code"] == "length_required"


async def test_an_owner_over_the_rate_limit_gets_429_and_others_do_not(
    stack: RunningStack, http: httpx.AsyncClient, caller: CallerFactory
) -> None:
    flooder, bystander = await caller(), await caller()
    limit = stack.config.rate_limit_owner
    answers = await asyncio.gather(
        *(flooder.http.get("/api/todos/tasks", params={"limit": 1}) for _ in range(limit + 30))
    )
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 30
    assert_problem(limited[0], 429)
    assert limited[0].headers["retry-after"] == "10"
    assert {a.status_code for a in answers} == {200, 429}
    assert (await bystander.http.get("/api/todos/tasks")).status_code == 200


async def test_request_id_is_made_when_absent_and_kept_when_given(
    http: httpx.AsyncClient, tokens: TokenMaker
) -> None:
    headers = {"Authorization": f"Bearer {tokens.token(uuid.uuid4())}"}
    made = await http.get("/api/todos/tasks", headers=headers)
    assert uuid.UUID(made.headers["x-request-id"])
    given = await http.get("/api/todos/tasks", headers={**headers, "X-Request-ID": "trace-me-42"})
    assert given.headers["x-request-id"] == "trace-me-42"
    refused = await http.get("/nowhere", headers={"X-Request-ID": "on-a-404"})
    assert refused.headers["x-request-id"] == "on-a-404"
    hostile = await http.get("/api/todos/tasks", headers={**headers, "X-Request-ID": "a b<script>"})
    assert uuid.UUID(hostile.headers["x-request-id"])


async def test_the_web_ui_is_served_without_a_token_and_its_dev_token_works(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/", "/app", "/app/tasks", "/app/budget?x=1"):
        page = await http.get(path)
        assert page.status_code == 200, (path, page.text)
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
    script = re.search(r'src="(/assets/[^"]+\.js)"', (await http.get("/")).text)
    assert script is not None
    asset = await http.get(script.group(1))
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]

    owner = uuid.uuid4()
    minted = await http.post("/dev/token", json={"owner_id": str(owner), "admin": False})
    assert minted.status_code == 200, minted.text
    token = minted.json()["token"]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == str(owner)
    tasks = await http.get("/api/todos/tasks", headers={"Authorization": f"Bearer {token}"})
    assert tasks.status_code == 200, tasks.text
    assert_problem(await http.post("/dev/token", json={"owner_id": "nobody"}), 422)


@pytest.fixture
async def h2c(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP/2 with prior knowledge over clear text (h2c), as `curl --http2-prior-knowledge`."""
    async with httpx.AsyncClient(
        base_url=stack.config.gateway_url, http1=False, http2=True, timeout=30
    ) as client:
        yield client


def _h2_post(
    port: int, token: str, chunks: int, length: int | None = None
) -> tuple[int, dict[str, str], int]:
    """HTTP/2 with prior knowledge by hand: a POST (with a declared `length` or none) whose body
    is sent a DATA frame at a time until the gateway answers; (status, headers, bytes sent)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        stream = conn.get_next_available_stream_id()
        conn.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", f"127.0.0.1:{port}"),
                (":path", "/api/todos/tasks"),
                ("authorization", f"Bearer {token}"),
                ("content-type", "application/json"),
                *([("content-length", str(length))] if length is not None else []),
            ],
        )
        sock.sendall(conn.data_to_send())
        sent, status, headers = 0, 0, {}
        while not status:
            if sent < chunks * 16384 and not select.select([sock], [], [], 0.01)[0]:
                window = min(16384, conn.local_flow_control_window(stream))
                if window > 0:
                    conn.send_data(stream, b"x" * window)
                    sent += window
                    sock.sendall(conn.data_to_send())
                    continue
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    headers = {k.decode(): v.decode() for k, v in event.headers}
                    status = int(headers[":status"])
                elif isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
                    # After an answer, the rest of an unread body is cancelled: keep the answer.
                    return status, headers or {"reset": str(event.error_code)}, sent
            sock.sendall(conn.data_to_send())
    return status, headers, sent


async def test_http2_bodies_are_bounded_like_http1(
    stack: RunningStack, h2c: httpx.AsyncClient, tokens: TokenMaker
) -> None:
    token = tokens.token(uuid.uuid4())
    # 20 MiB offered without a length (HTTP/2 needs neither content-length nor chunked coding).
    port = stack.config.gateway_port
    status, headers, sent = await asyncio.to_thread(_h2_post, port, token, 20 * 64)
    assert status == 411, headers
    assert headers["content-type"].startswith(PROBLEM)
    assert sent < 2 * 1024 * 1024  # refused on the headers: the body was never taken in
    # A declared length over the limit: refused before the body too.
    status, headers, sent = await asyncio.to_thread(_h2_post, port, token, 0, 20 * 1024 * 1024)
    assert status == 413, headers
    assert headers["content-type"].startswith(PROBLEM)
    # A small declared length, then more DATA than it said: the stream is reset, nothing is
    # answered (and nothing reaches a service).
    status, headers, sent = await asyncio.to_thread(_h2_post, port, token, 4, 100)
    assert status == 0, headers
    assert "reset" in headers

    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    fits = b'{"title": "over h2", "description": "' + b"y" * 1000 + b'"}'
    created = await h2c.post("/api/todos/tasks", headers=auth, content=fits)
    assert created.status_code == 201, created.text
    assert created.http_version == "HTTP/2"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "rebound.attacker.example"}, 403),  # DNS rebinding: the page's own host
        ({"Origin": "http://evil.example"}, 403),  # a foreign page posting cross-site
        ({"Origin": "null"}, 403),
        ({"Content-Type": "text/plain"}, 415),  # a "simple" cross-site request, no preflight
    ],
)
async def test_the_dev_token_endpoint_answers_only_loopback_pages_with_json(
    http: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    body = b'{"owner_id": "' + str(uuid.uuid4()).encode() + b'", "admin": true}'
    sent = {"Content-Type": "application/json", **headers}
    answer = await http.post("/dev/token", content=body, headers=sent)
    assert_problem(answer, status)
    assert "token" not in answer.json()


async def test_the_dev_token_endpoint_serves_the_ui_on_loopback(
    stack: RunningStack, http: httpx.AsyncClient
) -> None:
    body = {"owner_id": str(uuid.uuid4())}
    for origin in (stack.config.gateway_url, f"http://localhost:{stack.config.gateway_port}"):
        answer = await http.post("/dev/token", json=body, headers={"Origin": origin})
        assert answer.status_code == 200, answer.text


def _self_signed(directory: Path) -> Path:
    """gateway.pem and gateway.pem.key, as the prod overlay mounts them from its Secret."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = directory / "gateway.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "gateway.pem.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


async def test_with_a_certificate_the_gateway_serves_https_with_hsts_and_redirects_http(
    stack: RunningStack, tmp_path: Path
) -> None:
    # The same haproxy.cfg as the prod overlay runs, with GATEWAY_TLS_CERT set, in front of the
    # session stack's APIs; its own ports.
    cfg = stack.config
    plain, tls, admin = cfg.gateway_port + 600, cfg.gateway_port + 601, cfg.admin_port + 600
    env = {
        **os.environ,
        "GATEWAY_BIND": f"127.0.0.1:{plain}",
        "GATEWAY_TLS_BIND": f"127.0.0.1:{tls}",
        "GATEWAY_TLS_CERT": str(_self_signed(tmp_path)),
        "GATEWAY_ADMIN_BIND": f"127.0.0.1:{admin}",
        "JWT_PUBLIC_KEY_FILE": str(stack.dev_dir / "jwt-public.pem"),
        "TODOS_API_1": f"127.0.0.1:{cfg.todos_port}",
        "BUDGET_API_1": f"127.0.0.1:{cfg.budget_port}",
    }
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    assert haproxy is not None
    config = ROOT / "deploy" / "gateway" / "haproxy.cfg"
    gateway = await asyncio.create_subprocess_exec(
        haproxy, "-db", "-f", str(config), env=env, stdout=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(verify=False, timeout=5) as client:  # noqa: S501 - self-signed
            for _ in range(50):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{admin}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            secure = await client.get(f"https://127.0.0.1:{tls}/api/todos/tasks")
            assert secure.status_code == 401  # through TLS to the edge's own checks
            assert secure.headers["strict-transport-security"].startswith("max-age=63072000")
            redirected = await client.get(f"http://127.0.0.1:{plain}/api/todos/tasks?limit=1")
            assert redirected.status_code == 308
            assert redirected.headers["location"].startswith("https://")
            assert "strict-transport-security" not in redirected.headers
        async with httpx.AsyncClient(verify=False, http2=True, timeout=5) as h2:  # noqa: S501
            over_h2 = await h2.get(f"https://127.0.0.1:{tls}/api/todos/tasks")
            assert over_h2.http_version == "HTTP/2"  # ALPN h2: the body limits above apply
    finally:
        gateway.terminate()
        await asyncio.wait_for(gateway.wait(), timeout=10)
