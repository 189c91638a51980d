"""The web UI's server in development (`make run` and the e2e stacks start it; never deployed).

It serves the built single-page app (services/web/dist): `/` and `/app/*` get index.html, the
assets come from `/assets/`. It also answers `POST /dev/token` `{"owner_id", "admin"}` with a
token signed with the development key, so the browser signs in without ever holding a key.
In compose and Kubernetes an nginx image serves the same files and `/dev/token` does not exist:
there the token comes from the identity provider (README, "The web UI").
"""

from __future__ import annotations

import argparse
import uuid
from http import HTTPStatus
from pathlib import Path

import devkeys
import uvicorn
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

DIST = Path(__file__).resolve().parents[2] / "services" / "web" / "dist"
TOKEN_LIFETIME = 8 * 3600


class TokenRequest(BaseModel):
    """Who to sign in as."""

    model_config = ConfigDict(extra="forbid")
    owner_id: uuid.UUID
    admin: bool = False


def _problem(status: int, code: str, detail: str) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse({**body, "code": code}, status, media_type="application/problem+json")


def create_app(dist: Path, dev: devkeys.DevSecrets) -> Starlette:
    """The static app plus the development token endpoint."""

    async def token(request: Request) -> Response:
        try:
            asked = TokenRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return _problem(422, "validation_error", detail or "invalid body")
        signed = dev.token(str(asked.owner_id), admin=asked.admin, expires_in=TOKEN_LIFETIME)
        return JSONResponse({"token": signed, "expires_in": TOKEN_LIFETIME})

    async def page(_: Request) -> Response:
        index = dist / "index.html"
        if not index.exists():
            return PlainTextResponse("The web UI is not built: run `make web`.", 503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    (dist / "assets").mkdir(parents=True, exist_ok=True)
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/dev/token", token, methods=["POST"]),
            Route("/", page),
            Route("/app", page),
            Route("/app/{path:path}", page),
            Mount("/assets", StaticFiles(directory=dist / "assets")),
        ]
    )


def main() -> None:
    """Serve on 127.0.0.1:--port."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dist", type=Path, default=DIST)
    p.add_argument("--dev-dir", type=Path, default=devkeys.DEFAULT_DEV_DIR)
    a = p.parse_args()
    app = create_app(a.dist, devkeys.ensure(a.dev_dir))
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
