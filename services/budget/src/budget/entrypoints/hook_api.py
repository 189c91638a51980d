"""`POST /hooks/todos.before_complete_task`: verify the signature, then veto or hold.

A call is answered only if it is signed with budget's secret, for budget (the body names its
subscriber), and is a delivery not seen before: a replayed one (the same signed request
again) is refused with 409 `replayed`, whichever replica it reaches, since the deliveries are
recorded in the database until their signature expires. A retry of the same attempt is a new
delivery (todos signs each request afresh) and is answered as usual.
"""

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from budget.bootstrap import Container
from budget.entrypoints.openapi import problems
from budget.entrypoints.problems import ProblemError
from budget.metrics import HOOK_DECISIONS, HOOK_LATENCY
from budget.service_layer import hook
from contracts.hooks import HOOK_PATH, Allow, BeforeCompleteTask, Veto
from contracts.signing import SIGNATURE_HEADER, SignatureError, verify

router = APIRouter(tags=["hooks"])

JSON = "application/json"
# The usual answer, serialised once: the route returns bytes, so FastAPI neither validates nor
# re-encodes a response model per call (the body is still `contracts.hooks.Allow`'s).
ALLOW = Allow().model_dump_json().encode()


@router.post(
    HOOK_PATH,
    response_model=Allow | Veto,  # documented; the route answers the serialised bytes itself
    summary="todos.before_complete_task: veto, or hold the task's cost and allow",
    description="Called by todos-service before it completes a task, signed "
    "with `X-Hook-Signature`. Not routed by the gateway.",
    responses=problems(401, 409, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BeforeCompleteTask"}}
            },
        }
    },
)
async def before_complete(request: Request) -> Response:
    started = time.perf_counter()
    resources: Container = request.app.state.container
    body = await request.body()
    signed_at = _verify_signature(resources, request.headers.get(SIGNATURE_HEADER), body)
    try:
        call = BeforeCompleteTask.model_validate_json(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise ProblemError(422, "validation_error", f"{where}: {err['msg']}") from exc
    settings = resources.settings
    if call.subscriber != settings.hook_subscriber:
        HOOK_DECISIONS.labels("unauthorized").inc()
        raise ProblemError(
            401,
            "invalid_signature",
            f"Hook signature rejected: signed for subscriber {call.subscriber!r}, "
            f"not {settings.hook_subscriber!r}.",
        )
    # Remembered while the signature could verify (its time + the tolerance), then purged.
    expires = datetime.fromtimestamp(signed_at + settings.hook_tolerance_seconds, UTC)
    if not await resources.hook_deliveries.claim(call.delivery_id, expires):
        HOOK_DECISIONS.labels("replayed").inc()
        raise ProblemError(409, "replayed", "This hook delivery was already received.")
    decision = await hook.before_complete_task(
        resources.repos,
        resources.clock,
        settings.hold_ttl,
        call.owner_id,
        call.task_id,
        invocation_id=call.invocation_id,
        deadline=call.deadline,
    )
    if decision.allowed:
        body, verdict = ALLOW, "allow"
    else:
        body, verdict = Veto(reason=decision.reason or "veto").model_dump_json().encode(), "veto"
    HOOK_DECISIONS.labels(verdict).inc()
    HOOK_LATENCY.observe(time.perf_counter() - started)
    return Response(body, media_type=JSON)


def _verify_signature(resources: Container, header: str | None, body: bytes) -> int:
    """The signature's time; 401 unless one of budget's secrets signed `body` lately."""
    settings = resources.settings
    now = time.time()
    error = SignatureError("no hook secret is configured")
    for secret in settings.hook_secrets:  # any current secret may sign (rotation)
        try:
            return verify(
                header,
                body,
                secret.get_secret_value(),
                now=now,
                tolerance=settings.hook_tolerance_seconds,
            )
        except SignatureError as exc:
            error = exc
    HOOK_DECISIONS.labels("unauthorized").inc()
    raise ProblemError(401, "invalid_signature", f"Hook signature rejected: {error}.")
