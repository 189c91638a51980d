"""The web UI's server in development (`make run` and the e2e stacks start it; never deployed).

It serves the built single-page app (services/web/dist): `/` and `/app/*` get index.html, the
assets come from `/assets/`. It also answers `POST /dev/token` `{"owner_id", "admin"}` with a
token signed with the development key, so the browser signs in without ever holding a key;
only to a page on this machine (Host and Origin are loopback) and only for a JSON body.
In compose and Kubernetes an nginx image serves the same files and `/dev/token` does not exist:
there the token comes from the identity provider (docs/web-ui.md#signing-in).
"""

from __future__ import annotations

import argparse
import uuid
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

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


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _loopback_host(host: str) -> bool:
    """`Host` names this machine: localhost, 127.0.0.1 or [::1], with any port."""
    name = host.strip().lower()
    if not name.startswith("["):
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    else:
        name = name.split("]", 1)[0] + "]"
    return name in LOOPBACK_NAMES


def _loopback_origin(origin: str) -> bool:
    """`Origin` is a page of this machine (http or https, any port); "null" is not."""
    parts = urlsplit(origin.strip())
    return parts.scheme in ("http", "https") and _loopback_host(parts.netloc)


def create_app(dist: Path, dev: devkeys.DevSecrets) -> Starlette:
    """The static app plus the development token endpoint."""

    async def token(request: Request) -> Response:
        # Only a page served from this machine may ask: a rebinding attacker's name in Host,
        # a foreign page's Origin, or a "simple" (preflight-free) cross-site body are refused.
        if not _loopback_host(request.headers.get("host", "")):
            return _problem(403, "forbidden", "Development tokens are served to loopback only.")
        origin = request.headers.get("origin")
        if origin is not None and not _loopback_origin(origin):
            return _problem(403, "forbidden", "Development tokens are served to loopback pages.")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _problem(415, "unsupported_media_type", "Send the request as application/json.")
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
