"""One completion, one trace: through the gateway, todos-api, the hook into budget-api, the
outbox row, the relay's publish and budget's consumer, exported over OTLP/HTTP to a receiver
in this test process."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from e2e.api import Caller
from e2e.identity import TokenMaker
from e2e.otlp import OtlpReceiver, Span
from e2e.stack import RunningStack
from tests.conftest import stack_config, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(0) as r:  # a free port
        yield r


@pytest.fixture(scope="module")
def traced_stack(
    receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """A stack started with `--tracing`, exporting to `receiver` with short batch delays."""
    config = replace(stack_config("e2e_tracing", 18500), tracing=True)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    yield from start_stack(config, tmp_path_factory.mktemp("tracing"), env)


def _dump(spans: list[Span]) -> None:
    """With TRACE_DUMP=<file>, keep the trace as JSON (docs/ renders it as a waterfall)."""
    if dump := os.environ.get("TRACE_DUMP"):
        Path(dump).write_text(json.dumps([s.as_json() for s in spans], indent=1))


def _is_query(span: Span) -> bool:
    return "db.system" in span.attributes or "db.system.name" in span.attributes


def _url(span: Span) -> str:
    return str(span.attributes.get("url.full") or span.attributes.get("http.url") or "")


def _is_complete(spans: list[Span]) -> bool:
    return any(s.service == "budget-consumer" and s.name.startswith("apply ") for s in spans)


async def test_one_completion_is_one_trace_across_http_outbox_and_amqp(
    traced_stack: RunningStack, receiver: OtlpReceiver
) -> None:
    tokens = TokenMaker(traced_stack.dev_dir)
    admin = Caller(traced_stack.config.gateway_url, tokens, admin=True)
    owner = Caller(traced_stack.config.gateway_url, tokens)
    try:
        token_type = await admin.create_token_type()
        await admin.credit(owner.id, token_type, 10)
        task = await owner.create_task("traced")
        await owner.set_cost(task, token_type, 3)
        # The caller starts the trace; the gateway passes `traceparent` through unchanged.
        trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
        r = await owner.http.post(
            f"/api/todos/tasks/{task}/complete",
            headers={"traceparent": f"00-{trace_id}-{client_span}-01"},
        )
        assert r.status_code == 200, r.text
        assert len(await owner.wait_for_debits(task)) == 1
    finally:
        await admin.aclose()
        await owner.aclose()

    spans = await receiver.wait_for(trace_id, _is_complete)
    _dump(spans)
    by_id = {s.span_id: s for s in spans}

    def ancestors(span: Span) -> list[Span]:
        chain = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            chain.append(span)
        return chain

    def one(service: str, predicate: object) -> Span:
        found = [s for s in spans if s.service == service and predicate(s)]  # type: ignore[operator]
        assert found, f"no {service} span matches in {[(s.service, s.name) for s in spans]}"
        return found[0]

    # gateway -> todos-api: the server span continues the caller's span.
    api = one("todos-api", lambda s: s.kind == "server" and s.name.endswith("/complete"))
    assert api.parent_id == client_span
    # todos-api's own work: the UPDATE + outbox INSERT in one transaction, traced by asyncpg.
    assert any(s.service == "todos-api" and _is_query(s) and api in ancestors(s) for s in spans)
    # todos -> hook -> budget: the httpx client span, and budget-api's server span below it.
    hook_client = one("todos-api", lambda s: s.kind == "client" and "/hooks/" in _url(s))
    assert api in ancestors(hook_client)
    hook_server = one("budget-api", lambda s: s.kind == "server" and "before_complete" in s.name)
    assert hook_server.parent_id == hook_client.span_id
    # outbox -> relay: the relay's span continues the traceparent stored with the row.
    relay = one("todos-relay", lambda s: s.name == "outbox relay todos.task.completed.v1")
    assert api in ancestors(relay)
    publish = one("todos-relay", lambda s: s.kind == "producer" and relay in ancestors(s))
    # relay -> consumer: the receive span continues the AMQP headers, the debit runs below it.
    receive = one("budget-consumer", lambda s: s.kind == "consumer")
    assert publish in ancestors(receive)
    apply = one("budget-consumer", lambda s: s.name == "apply todos.task.completed.v1")
    assert receive in ancestors(apply)
    assert any(_is_query(s) and apply in ancestors(s) for s in spans), "the debit's query"
    assert {s.trace_id for s in spans} == {trace_id}
