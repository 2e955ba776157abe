"""The public app (网络 channel): report form, receipts, status and messages.

It runs on its own bind and origin; no staff route is ever mounted here. It
sets no cookies, loads nothing from other origins, keeps no access log, and
reads the client address only to key its in-memory rate limits
(docs/web-channel.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.runtime import Runtime
from core.settings import Settings
from core.web import EXCEPTION_HANDLERS, SecurityHeaders
from intake import api, pages
from intake.channel import WebChannel
from intake.csrf import CsrfTokens

STATIC = Path(__file__).parent / "static"

# python-multipart logs parse problems with fragments of the body; a body here is a report.
logging.getLogger("python_multipart").setLevel(logging.CRITICAL + 1)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def routes() -> list[Route | Mount]:
    return [
        Route("/healthz", healthz),
        Route("/", pages.index),
        Route("/report", pages.report_form, methods=["GET"]),
        Route("/report", pages.report_submit, methods=["POST"]),
        Route("/status", pages.status_form_page, methods=["GET"]),
        Route("/status", pages.status_submit, methods=["POST"]),
        Route("/status/messages", pages.message_submit, methods=["POST"]),
        Route("/api/v1/reports", api.create_report, methods=["POST"]),
        Route("/api/v1/receipts/status", api.receipt_status, methods=["POST"]),
        Route("/api/v1/receipts/messages", api.receipt_message, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    """Build the public app; without ``runtime`` its lifespan opens (and closes) its own."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = Runtime.open(settings) if runtime is None else runtime
        app.state.settings = settings
        app.state.channel = WebChannel(app.state.runtime, settings)
        app.state.csrf = CsrfTokens(app.state.runtime.secrets.cookie_keys)
        try:
            yield
        finally:
            if owned:
                await app.state.runtime.close()

    return Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeaders, onion_address=settings.onion_address)],
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: pages.page_error},
        lifespan=lifespan,
    )
