"""The staff app: login, triage console, transfers, oversight and administration.

It runs on its own bind and origin, never on the public one. Pages and API endpoints live in
``admin/views_*.py`` modules, each exposing ``routes``; :data:`ROUTE_LISTS` composes them, so a
new console area is one module and one line here (docs/staff-console.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from admin import (
    admin_pages,
    hotline,
    views_audit,
    views_auth,
    views_cases_api,
    views_console,
    views_oversight,
)
from admin.auth import Authenticator
from admin.policy import Rule
from admin.sessions import CookieCodec
from admin.web import html_or_json_error, public_endpoint
from core.errors import XunchaError
from core.runtime import Runtime
from core.settings import Settings
from core.web import SecurityHeaders
from intake import pbx

STATIC_DIR = Path(__file__).parent / "static"


@public_endpoint
async def healthz(request: Request, _staff: object) -> JSONResponse:
    return JSONResponse({"status": "ok"})


# Every console area: add its module's ``routes`` here (each endpoint names its Rule).
ROUTE_LISTS: list[list[BaseRoute]] = [
    views_auth.routes,
    views_cases_api.routes,
    views_console.routes,
    hotline.routes,
    pbx.routes,  # PBX voicemail and IVR status: HMAC-signed, no session (intake/pbx.py)
    views_audit.routes,
    views_oversight.routes,
    admin_pages.routes,  # /invitation and the administrators' /admin pages (docs/administration.md)
]


def all_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    for route_list in ROUTE_LISTS:
        routes.extend(route_list)
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return routes


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    """Build the staff app; without ``runtime`` its lifespan opens (and closes) its own."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = Runtime.open(settings) if runtime is None else runtime
        app.state.cookies = CookieCodec(app.state.runtime.secrets.cookie_keys)
        app.state.authenticator = Authenticator(app.state.runtime)
        try:
            yield
        finally:
            if owned:
                await app.state.runtime.close()

    return Starlette(
        routes=all_routes(),
        middleware=[Middleware(SecurityHeaders, onion_address=settings.onion_address)],
        exception_handlers={
            XunchaError: html_or_json_error,
            HTTPException: html_or_json_error,
            Exception: html_or_json_error,
        },
        lifespan=lifespan,
    )


__all__ = ["ROUTE_LISTS", "Rule", "create_app"]
