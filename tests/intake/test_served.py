"""The public app behind a real hypercorn server: refusals mid-upload reach the client."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from hypercorn.asyncio import serve
from sqlalchemy import func, select

from admin.serve import hypercorn_config
from core.models import Attachment, BlobChunk, Case
from core.runtime import Runtime
from core.settings import Bind
from intake.app import create_app
from tests.processes import free_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True),
]

MIB = 1024 * 1024


@pytest.fixture
async def served(demo_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = replace(demo_runtime.settings, max_attachment_bytes=MIB)
    app = create_app(settings, demo_runtime)
    port = free_port()
    stop = asyncio.Event()
    config = hypercorn_config(Bind("127.0.0.1", port))
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(100):
                try:
                    await http.get("/healthz")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            yield http
    finally:
        stop.set()
        await server


async def test_an_oversized_file_gets_a_readable_413_and_nothing_is_kept(
    served: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    response = await served.post(
        "/api/v1/reports",
        data={"text": "反映问题，附录音。"},
        files=[("attachments", ("录音.m4a", os.urandom(MIB + MIB // 2), "audio/mp4"))],
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "attachment_too_large"
    async with demo_runtime.db.reading() as session:
        for model in (Case, Attachment, BlobChunk):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
    accepted = await served.post(
        "/api/v1/reports",
        data={"text": "反映问题，附录音。"},
        files=[("attachments", ("录音.m4a", os.urandom(MIB // 2), "audio/mp4"))],
    )
    assert accepted.status_code == 201
