"""Fixtures for the public app: the demo county served in-process over ASGI."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from core.cases import attachment_field, attachment_meta_field
from core.models import Attachment, BlobChunk
from core.runtime import Runtime
from crypto import open_stream, open_text
from intake.app import create_app
from intake.pipeline import IntakePipeline

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


async def open_attachments(runtime: Runtime, receipt: str) -> list[tuple[dict[str, object], bytes]]:
    """Decrypt a case's attachments with the reporter's receipt: (meta, content), oldest first."""
    pipeline = IntakePipeline(runtime)
    case, data_key, _keys = await pipeline.open_draft_for_receipt(receipt)
    opened = []
    async with runtime.db.reading() as session:
        attachments = await session.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
        )
        for attachment in attachments:
            meta = json.loads(
                open_text(
                    data_key, case.id, attachment_meta_field(attachment.id), attachment.sealed_meta
                )
            )
            chunks = await session.scalars(
                select(BlobChunk.data)
                .where(BlobChunk.attachment_id == attachment.id)
                .order_by(BlobChunk.seq)
            )
            content = b"".join(
                open_stream(data_key, case.id, attachment_field(attachment.id), list(chunks))
            )
            meta["size_bucket"] = attachment.size_bucket
            opened.append((meta, content))
    return opened


def multipart(
    fields: dict[str, str], files: list[tuple[str, bytes, str]] | None = None
) -> tuple[bytes, dict[str, str]]:
    """A body as a browser sends it (fields in form order, then files), and its headers."""
    boundary = "----xunchaTestBoundary7MA4YWxk"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields.items()
    ]
    for filename, content, content_type in files or []:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}
