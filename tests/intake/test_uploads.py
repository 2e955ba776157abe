"""Attachments over the JSON API: cleaned, sealed while streaming, limits, and clean aborts."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from core.models import Attachment, BlobChunk, Case, CaseField, Event
from core.runtime import Runtime
from tests.conftest import BACKENDS
from tests.intake.conftest import multipart, open_attachments
from tests.intake.test_sanitise import CANARY, jpeg_with_metadata

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

TEXT = "县自然资源局审批科科长李某某在土地出让中收受开发商好处费，有照片为证。"
FIELDS = {"text": TEXT, "accused_name": "李某某", "accused_unit": "县自然资源局"}


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def _nothing_stored(runtime: Runtime) -> None:
    for model in (Case, CaseField, Attachment, BlobChunk):
        assert await _count(runtime, model) == 0, model.__name__


async def test_photo_is_stripped_sealed_and_opens_with_the_receipt(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    photo = jpeg_with_metadata()
    evidence = os.urandom(5 * 1024 * 1024 + 123)  # past the in-memory spool: a temp file
    response = await client.post(
        "/api/v1/reports",
        data={**FIELDS, "category_hint": "integrity"},
        files=[
            ("attachments", ("现场照片.jpg", photo, "image/jpeg")),
            ("attachments", ("录音.m4a", evidence, "audio/mp4")),
        ],
    )
    assert response.status_code == 201, response.text
    receipt = response.json()["receipt"]
    async with demo_runtime.db.reading() as session:
        case = await session.scalar(select(Case))
        assert case is not None
        assert case.attachment_count == 2
        assert case.primary == "integrity" or "integrity" in case.categories
        for bucket in await session.scalars(select(Attachment.size_bucket)):
            assert bucket & (bucket - 1) == 0  # a power of two, nothing finer
        chunks = list(await session.scalars(select(BlobChunk.data)))
    assert not any(CANARY in chunk for chunk in chunks)
    opened = sorted(await open_attachments(demo_runtime, receipt), key=lambda m: str(m[0]["name"]))
    (photo_meta, photo_out), (audio_meta, audio_out) = opened[1], opened[0]
    assert photo_meta["name"] == "现场照片.jpg"
    assert photo_meta["content_type"] == "image/jpeg"
    assert photo_meta["sanitised"] is True
    assert photo_meta["size"] == len(photo_out)
    assert CANARY not in photo_out
    assert photo_out.startswith(b"\xff\xd8")
    assert audio_meta == {
        "name": "录音.m4a",
        "content_type": "audio/mp4",
        "size": len(evidence),
        "sanitised": False,
        "size_bucket": audio_meta["size_bucket"],
    }
    assert audio_out == evidence


async def test_keep_original_stores_the_photo_unchanged(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    photo = jpeg_with_metadata()
    response = await client.post(
        "/api/v1/reports",
        data={**FIELDS, "keep_original": "1"},
        files=[("attachments", ("原件.jpg", photo, "image/jpeg"))],
    )
    assert response.status_code == 201
    [(meta, content)] = await open_attachments(demo_runtime, response.json()["receipt"])
    assert content == photo
    assert meta["sanitised"] is False


async def test_empty_file_input_is_ignored(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    # What a browser sends for a file input left empty: a part with filename="".
    raw = (
        b'--B\r\nContent-Disposition: form-data; name="text"\r\n\r\n'
        + TEXT.encode()
        + b'\r\n--B\r\nContent-Disposition: form-data; name="attachments"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n"
    )
    response = await client.post(
        "/api/v1/reports", content=raw, headers={"content-type": "multipart/form-data; boundary=B"}
    )
    assert response.status_code == 201
    assert await _count(demo_runtime, Attachment) == 0


async def _limited_client(
    app: Starlette, demo_runtime: Runtime, **limits: Any
) -> httpx.AsyncClient:
    channel = app.state.channel
    channel.upload_limits = replace(channel.upload_limits, **limits)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_limits_and_refusals_store_nothing(app: Starlette, demo_runtime: Runtime) -> None:
    async with await _limited_client(app, demo_runtime, max_files=2, max_file_bytes=1000) as http:
        cases = [
            (
                [("attachments", (f"{i}.txt", b"x", "text/plain")) for i in range(3)],
                413,
                "attachment_too_large",
            ),
            (
                [("attachments", ("big.txt", b"x" * 1001, "text/plain"))],
                413,
                "attachment_too_large",
            ),
            (
                [("attachments", ("tool.exe", b"hello", "application/octet-stream"))],
                415,
                "attachment_type_refused",
            ),
            (
                [("attachments", ("photo.jpg", b"MZ\x90\x00" * 10, "image/jpeg"))],
                415,
                "attachment_type_refused",
            ),
            (
                [("attachments", ("broken.jpg", b"\xff\xd8\xff\xe1\x00\x10Exif", "image/jpeg"))],
                422,
                "attachment_unreadable",
            ),
            ([("evidence", ("a.txt", b"x", "text/plain"))], 422, "unknown_field"),
        ]
        for files, status, code in cases:
            response = await http.post("/api/v1/reports", data=FIELDS, files=files)
            assert response.status_code == status, (files[0][1][0], response.text)
            assert response.json()["error"]["code"] == code
    await _nothing_stored(demo_runtime)


async def test_bad_form_fields_are_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for data, code in [
        ({**FIELDS, "accused": "李某某"}, "unknown_field"),
        ({"accused_name": "李某某"}, "empty_text"),
        ({**FIELDS, "category_hint": "bribery"}, "invalid_category"),
    ]:
        body, headers = multipart(data)
        response = await client.post("/api/v1/reports", content=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code
    boundary = "b0undary"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n'.encode()
        + b"\xe5\x8e\xbf\xff\xfe"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = await client.post(
        "/api/v1/reports",
        content=raw,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_utf8"
    huge = {**FIELDS, "text": "字" * 50_000}
    body, headers = multipart(huge)
    response = await client.post("/api/v1/reports", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "field_too_large"
    truncated = raw.replace(b"\xff\xfe", b"").rsplit(b"--b0undary--", 1)[0]
    response = await client.post(
        "/api/v1/reports",
        content=truncated,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "malformed_multipart"
    await _nothing_stored(demo_runtime)


def _multipart(fields: dict[str, str], files: list[Any]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://testserver/", data=fields, files=files)
    return request.read(), request.headers["content-type"]


async def test_client_that_disconnects_mid_upload_leaves_nothing(
    app: Starlette, demo_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    body, content_type = _multipart(
        FIELDS, [("attachments", ("大文件.bin", os.urandom(300_000), "application/octet-stream"))]
    )
    events_before = await _count(demo_runtime, Event)
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:100_000], "more_body": True},
        {"type": "http.request", "body": body[100_000:200_000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/reports",
        "raw_path": b"/api/v1/reports",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", content_type.encode()), (b"host", b"testserver")],
        "client": ("203.0.113.9", 5555),
        "server": ("testserver", 80),
    }
    with caplog.at_level("DEBUG"):
        await app(scope, receive, send)
    assert sent[0]["status"] == 400
    await _nothing_stored(demo_runtime)
    assert await _count(demo_runtime, Event) == events_before
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_status_and_messages_do_not_accept_multipart_on_the_api(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/receipts/status", data={"receipt": "1" * 20}, files=[("x", ("a", b"b"))]
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
