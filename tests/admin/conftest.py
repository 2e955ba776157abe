"""Staff-app fixtures: the demo county on both backends, an app client, signed-in clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from admin.app import create_app
from core.runtime import Runtime
from tests.conftest import DEMO_PASSWORD

# __Host- cookies are Secure: the client must believe it talks HTTPS to keep them.
BASE_URL = "https://testserver"

Login = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def staff_app(demo_runtime: Runtime) -> AsyncIterator[Starlette]:
    app = create_app(demo_runtime.settings, demo_runtime)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(staff_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL
    ) as http:
        yield http


@pytest.fixture
async def login(staff_app: Starlette) -> AsyncIterator[Login]:
    """``await login("group1")`` -> a client signed in as that demo user (API login)."""
    opened: list[httpx.AsyncClient] = []

    async def sign_in(username: str) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL)
        opened.append(http)
        response = await http.post(
            "/api/v1/session", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        http.headers["x-csrf-token"] = response.json()["csrf_token"]
        return http

    yield sign_in
    for http in opened:
        await http.aclose()
