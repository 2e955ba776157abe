"""Anonymity: what a reporter sends is nowhere in clear — not in the database files, the data
directory, the key file, any log line — and every response carries the protective headers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from hypercorn.asyncio import serve
from sqlalchemy import select, text
from starlette.applications import Starlette

from admin.serve import hypercorn_config
from core.models import Base
from core.runtime import Runtime
from core.settings import Bind
from crypto import format_receipt
from intake import pipeline as pipeline_module
from intake.app import create_app
from tests.conftest import BACKENDS
from tests.intake.conftest import csrf_token, multipart
from tests.processes import free_port

pytestmark = pytest.mark.anyio

CLIENT_IP = "203.0.113.7"
TEXT = "县住建局副局长欧阳卫东在保障房分配中为亲属违规分房，并收受开发商装修款。"
NAME = "欧阳卫东"
CONTACT = "微信号 ouyang-report-9931"
CANARY = "附件金丝雀Zq81Vx"
MESSAGE = "补充：分房名单复印件在档案室第三柜。"


async def _submit_everything(client: httpx.AsyncClient) -> list[str]:
    api = await client.post(
        "/api/v1/reports",
        json={
            "text": TEXT,
            "accused": {"name": NAME, "unit": "县住房和城乡建设局"},
            "contact": CONTACT,
        },
    )
    assert api.status_code == 201
    token = csrf_token((await client.get("/report")).text)
    body, headers = multipart(
        {"csrf_token": token, "accused_name": NAME, "text": TEXT, "contact": CONTACT},
        [("证据.txt", CANARY.encode() * 50, "text/plain")],
    )
    page = await client.post("/report", content=body, headers=headers)
    assert page.status_code == 200
    html_receipt = re.search(r"\d{4} \d{4} \d{4} \d{4} \d{4}", page.text)
    assert html_receipt
    receipts = [api.json()["receipt"], html_receipt.group(0).replace(" ", "")]
    added = await client.post(
        "/api/v1/receipts/messages", json={"receipt": receipts[0], "text": MESSAGE}
    )
    assert added.status_code == 201
    for receipt in receipts:
        status = await client.post("/api/v1/receipts/status", json={"receipt": receipt})
        assert status.status_code == 200
    assert (
        await client.post("/api/v1/receipts/status", json={"receipt": "5" * 20})
    ).status_code == 404
    return receipts


def _needles(receipts: list[str]) -> dict[str, list[bytes]]:
    needles: dict[str, list[bytes]] = {}
    for label, value in [
        ("text", TEXT),
        ("name", NAME),
        ("contact", CONTACT),
        ("canary", CANARY),
        ("message", MESSAGE),
        ("ip", CLIENT_IP),
    ]:
        needles[label] = [
            value.encode(),
            json.dumps(value).encode(),
            value.encode("utf-16-le"),
            value[:6].encode(),
        ]
    for i, receipt in enumerate(receipts):
        needles[f"receipt{i}"] = [receipt.encode(), format_receipt(receipt).encode()]
    return needles


def _found(blob: bytes, needles: dict[str, list[bytes]]) -> list[str]:
    return [label for label, forms in needles.items() if any(form in blob for form in forms)]


@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
async def test_database_files_data_dir_and_key_file_hold_nothing_in_clear(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    receipts = await _submit_everything(client)
    needles = _needles(receipts)
    settings = demo_runtime.settings
    database = Path(settings.database_url.reveal().split("///", 1)[1])
    wal = database.with_name(database.name + "-wal")
    assert wal.exists()  # the recent writes are here: look at them too
    assert wal.stat().st_size > 0
    files = {database, wal, settings.key_file, *settings.data_dir.rglob("*")}
    for path in sorted(p for p in files if p.is_file()):
        assert _found(path.read_bytes(), needles) == [], path.name


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_no_table_row_holds_content_receipts_or_addresses(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    receipts = await _submit_everything(client)
    needles = _needles(receipts)
    async with demo_runtime.db.reading() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                dumped = repr(tuple(row)).encode() + b"".join(
                    v for v in row if isinstance(v, bytes)
                )
                assert _found(dumped, needles) == [], table.name
        if demo_runtime.db.is_postgres:
            await session.execute(text("SELECT 1"))


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_no_log_line_carries_an_address_a_receipt_or_content(
    app: Starlette,
    demo_runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        if logger.level and logger.level < logging.CRITICAL:
            monkeypatch.setattr(logger, "level", logging.DEBUG)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 4711), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        receipts = await _submit_everything(http)
        for bad in (b'{"text": "' + TEXT.encode() + b'"', b"\xff" + TEXT.encode()):
            await http.post(
                "/api/v1/reports", content=bad, headers={"content-type": "application/json"}
            )
        await http.post(
            "/api/v1/reports",
            content=b"--x\r\n" + TEXT.encode(),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )

        async def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError(f"storage failed for {TEXT} {receipts[0]} from {CLIENT_IP}")

        monkeypatch.setattr(pipeline_module, "enqueue", broken)
        failed = await http.post("/api/v1/reports", json={"text": TEXT})
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "internal"
        assert TEXT not in failed.text
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)
    needles = _needles(receipts)
    for record in caplog.records:
        line = (record.getMessage() + (record.exc_text or "") + repr(record.args)).encode()
        assert _found(line, needles) == [], record.name
        assert record.exc_info is None, record.name  # a traceback would carry the text


@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
async def test_served_by_hypercorn_without_access_log_or_version(
    demo_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    app = create_app(demo_runtime.settings, demo_runtime)
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve(app, hypercorn_config(Bind("127.0.0.1", port)), shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(50):
                try:
                    response = await http.get("/")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert response.headers["server"] == "xuncha"
            assert "hypercorn" not in str(response.headers).lower()
            posted = await http.post("/api/v1/reports", json={"text": TEXT})
            assert posted.status_code == 201
            huge = await http.get("/", headers={"x-filler": "a" * 70_000})
            assert huge.status_code in (400, 413, 431)
    finally:
        stop.set()
        await server
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in server_side:  # the test's own client logs its requests; the server must not
        assert "127.0.0.1" not in record.getMessage(), record.name
        assert TEXT not in record.getMessage()


async def _headers(app: Starlette, base_url: str, path: str = "/") -> httpx.Headers:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http:
        return (await http.get(path)).headers


@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
async def test_security_headers_on_pages_api_and_errors(
    app: Starlette, demo_runtime: Runtime
) -> None:
    for path in ("/", "/report", "/status", "/static/site.css", "/healthz", "/nope"):
        headers = await _headers(app, "http://testserver", path)
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert headers["referrer-policy"] == "no-referrer"
        assert "no-store" in headers["cache-control"]
        assert headers["x-content-type-options"] == "nosniff"
        assert "geolocation=()" in headers["permissions-policy"]
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["cross-origin-resource-policy"] == "same-origin"
        assert headers["server"] == "xuncha"
        assert "strict-transport-security" not in headers
        assert "onion-location" not in headers
        assert "set-cookie" not in headers
    secure = await _headers(app, "https://testserver")
    assert secure["strict-transport-security"].startswith("max-age=")

    onion = "duskgytldkxiuqc6.onion"
    settings = replace(demo_runtime.settings, onion_address=onion)
    onion_app = create_app(settings, demo_runtime)
    async with onion_app.router.lifespan_context(onion_app):
        headers = await _headers(onion_app, "http://testserver", "/status")
        assert headers["onion-location"] == f"http://{onion}/status"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=onion_app), base_url="http://testserver"
        ) as http:
            assert onion in (await http.get("/")).text
