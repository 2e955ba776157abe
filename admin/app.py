"""The staff app: login, triage console, transfers, oversight and administration.

It runs on its own bind and origin, never on the public one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.runtime import Runtime
from core.settings import Settings
from core.web import EXCEPTION_HANDLERS, SecurityHeaders


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    """Build the staff app; without ``runtime`` its lifespan opens (and closes) its own."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = Runtime.open(settings) if runtime is None else runtime
        try:
            yield
        finally:
            if owned:
                await app.state.runtime.close()

    return Starlette(
        routes=[Route("/healthz", healthz)],
        middleware=[Middleware(SecurityHeaders, onion_address=settings.onion_address)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
