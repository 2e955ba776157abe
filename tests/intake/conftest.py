"""Fixtures for the public app: the demo county served in-process over ASGI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from core.runtime import Runtime
from intake.app import create_app

CLIENT_BASE = "http://testserver"


@pytest.fixture
async def app(demo_runtime: Runtime) -> AsyncIterator[Starlette]:
    # The check floor is shortened so the suite stays fast; a test sets it back where it matters.
    demo_runtime.settings = replace(demo_runtime.settings, receipt_check_floor_ms=20)
    application = create_app(demo_runtime.settings, demo_runtime)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url=CLIENT_BASE) as http:
        yield http


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form without a CSRF token"
    return match.group(1)
