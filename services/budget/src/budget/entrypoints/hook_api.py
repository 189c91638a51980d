"""`POST /hooks/todos.before_complete_task`: verify the signature, then veto or hold."""

import time

from fastapi import APIRouter, Request
from pydantic import ValidationError

from budget.bootstrap import Container
from budget.entrypoints.deps import container
from budget.entrypoints.openapi import problems
from budget.entrypoints.problems import ProblemError
from budget.metrics import HOOK_DECISIONS, HOOK_LATENCY
from budget.service_layer.hook import before_complete_task
from contracts.hooks import HOOK_PATH, Allow, BeforeCompleteTask, Veto
from contracts.signing import SIGNATURE_HEADER, SignatureError, verify

router = APIRouter(tags=["hooks"])


@router.post(
    HOOK_PATH,
    summary="todos.before_complete_task: veto, or hold the task's cost and allow",
    description="Called by todos-service before it completes a task (SPEC section 6), signed "
    "with `X-Hook-Signature`. Not routed by the gateway.",
    responses=problems(401, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BeforeCompleteTask"}}
            },
        }
    },
)
async def before_complete(request: Request) -> Allow | Veto:
    started = time.perf_counter()
    resources = container(request)
    body = await request.body()
    _verify_signature(resources, request.headers.get(SIGNATURE_HEADER), body)
    try:
        call = BeforeCompleteTask.model_validate_json(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise ProblemError(422, "validation_error", f"{where}: {err['msg']}") from exc
    decision = await before_complete_task(
        resources.uow,
        resources.clock,
        resources.settings.hold_ttl,
        call.owner_id,
        call.task_id,
        invocation_id=call.invocation_id,
        deadline=call.deadline,
    )
    answer: Allow | Veto = Allow() if decision.allowed else Veto(reason=decision.reason or "veto")
    HOOK_DECISIONS.labels(answer.decision).inc()
    HOOK_LATENCY.observe(time.perf_counter() - started)
    return answer


def _verify_signature(resources: Container, header: str | None, body: bytes) -> None:
    settings = resources.settings
    now = time.time()
    error = SignatureError("no hook secret is configured")
    for secret in settings.hook_secrets:  # any current secret may sign (rotation)
        try:
            verify(
                header,
                body,
                secret.get_secret_value(),
                now=now,
                tolerance=settings.hook_tolerance_seconds,
            )
        except SignatureError as exc:
            error = exc
        else:
            return
    HOOK_DECISIONS.labels("unauthorized").inc()
    raise ProblemError(401, "invalid_signature", f"Hook signature rejected: {error}.")
