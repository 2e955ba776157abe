"""The public JSON API (SPEC §6): reports, receipt status, reporter messages, and their errors."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from core.models import Case, Message
from core.runtime import Runtime
from crypto import format_receipt
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

REPORT = {
    "text": "县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。",
    "accused": {"name": "王某某", "unit": "县教育局", "position": "基建股股长"},
    "category_hint": "integrity",
    "contact": "13800000000",
}


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_report_returns_a_receipt_that_shows_status_and_takes_messages(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    response = await client.post("/api/v1/reports", json=REPORT)
    assert response.status_code == 201
    receipt = response.json()["receipt"]
    assert len(receipt) == 20
    assert receipt.isdigit()

    status = await client.post("/api/v1/receipts/status", json={"receipt": receipt})
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "received"
    assert body["status_label"] == "已提交"
    assert len(body["updated_on"]) == 10
    assert body["messages"] == []

    typed = format_receipt(receipt).replace(" ", "-")
    added = await client.post(
        "/api/v1/receipts/messages", json={"receipt": typed, "text": "补充：转账记录在我手里。"}
    )
    assert added.status_code == 201
    status = await client.post("/api/v1/receipts/status", json={"receipt": receipt})
    messages = status.json()["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [("reporter", "补充：转账记录在我手里。")]
    assert messages[0]["on"] == body["updated_on"]


async def test_minimal_report_needs_only_text(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/reports", json={"text": "河口镇有干部违规操办婚宴。"})
    assert response.status_code == 201


BAD_REPORTS: list[tuple[dict[str, object], str]] = [
    ({"text": ""}, "empty_text"),
    ({"text": "   \n"}, "empty_text"),
    ({}, "empty_text"),
    ({"text": "字" * 20_001}, "text_too_long"),
    ({"text": 42}, "invalid_field"),
    ({"text": "内容", "acused": {"name": "王某某"}}, "unknown_field"),
    ({"text": "内容", "accused": {"name": "王某某", "age": 50}}, "unknown_field"),
    ({"text": "内容", "accused": "王某某"}, "invalid_field"),
    ({"text": "内容", "accused": {"name": "王" * 101}}, "field_too_long"),
    ({"text": "内容", "category_hint": "corruption"}, "invalid_category"),
    ({"text": "内容", "contact": ["phone"]}, "invalid_field"),
]


async def test_bad_reports_are_refused_with_a_code_and_nothing_is_stored(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for body, code in BAD_REPORTS:
        response = await client.post("/api/v1/reports", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == code, body
        assert response.json()["error"]["message"]
    assert await _count(demo_runtime, Case) == 0


MALFORMED: list[tuple[bytes, str, int, str]] = [
    (b'{"text": "x"', "application/json", 422, "malformed_json"),
    (b'["text"]', "application/json", 422, "malformed_json"),
    (b'{"text": "\xff\xfe"}', "application/json", 422, "malformed_json"),
    (b"text=x", "text/plain", 415, "unsupported_media_type"),
    (b"{}" + b" " * 300_000, "application/json", 413, "too_large"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x", 422, "malformed_multipart"),
    (b"", "multipart/form-data", 422, "malformed_multipart"),
]


async def test_malformed_bodies_get_clear_errors(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for content, content_type, status, code in MALFORMED:
        response = await client.post(
            "/api/v1/reports", content=content, headers={"content-type": content_type}
        )
        assert response.status_code == status, content[:40]
        assert response.json()["error"]["code"] == code, content[:40]
    assert await _count(demo_runtime, Case) == 0


async def test_unknown_receipt_is_not_found(client: httpx.AsyncClient) -> None:
    for path, body in [
        ("/api/v1/receipts/status", {"receipt": "1234 5678 9012 3456 7890"}),
        ("/api/v1/receipts/messages", {"receipt": "12345678901234567890", "text": "补充"}),
    ]:
        response = await client.post(path, json=body)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


BAD_RECEIPT_REQUESTS: list[tuple[str, dict[str, object], str]] = [
    ("/api/v1/receipts/status", {"receipt": "1234"}, "invalid_receipt"),
    ("/api/v1/receipts/status", {"receipt": "1234abcd56789012345678"}, "invalid_receipt"),
    ("/api/v1/receipts/status", {}, "invalid_receipt"),
    ("/api/v1/receipts/status", {"receipt": 12345678901234567890}, "invalid_receipt"),
    ("/api/v1/receipts/status", {"receipt": "1" * 20, "text": "x"}, "unknown_field"),
    ("/api/v1/receipts/messages", {"receipt": "1" * 20, "txt": "x"}, "unknown_field"),
    ("/api/v1/receipts/messages", {"receipt": "1" * 20, "text": ""}, "empty_text"),
]


async def test_bad_receipt_requests_are_refused(client: httpx.AsyncClient) -> None:
    for path, body, code in BAD_RECEIPT_REQUESTS:
        response = await client.post(path, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == code, body


async def test_message_with_the_reporters_own_receipt_is_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    receipt = (await client.post("/api/v1/reports", json=REPORT)).json()["receipt"]
    response = await client.post(
        "/api/v1/receipts/messages",
        json={"receipt": receipt, "text": f"我的查询码是{format_receipt(receipt)}，请回复"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "receipt_in_message"
    assert "查询码" in response.json()["error"]["message"]
    assert await _count(demo_runtime, Message) == 0


async def test_browsers_posting_from_another_site_are_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for path, body in [
        ("/api/v1/reports", REPORT),
        ("/api/v1/receipts/status", {"receipt": "1" * 20}),
        ("/api/v1/receipts/messages", {"receipt": "1" * 20, "text": "x"}),
    ]:
        response = await client.post(path, json=body, headers={"sec-fetch-site": "cross-site"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "cross_site"
    same = await client.post(
        "/api/v1/reports", json=REPORT, headers={"sec-fetch-site": "same-origin"}
    )
    assert same.status_code == 201
    assert await _count(demo_runtime, Case) == 1


async def test_unknown_routes_and_methods_answer_in_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await client.get("/api/v1/reports")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert (await client.get("/healthz")).status_code == 200
    page = await client.get("/nothing", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404
    assert "页面不存在" in page.text
    api = await client.get("/api/v1/nothing", headers={"accept": "text/html"})
    assert api.json()["error"]["code"] == "not_found"
