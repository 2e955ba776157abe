"""The zh-CN pages: plain forms (no script, no inline style), CSRF, receipt shown once, status."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from core.models import Attachment, Case, Message
from core.runtime import Runtime
from tests.conftest import BACKENDS
from tests.intake.conftest import csrf_token, multipart, open_attachments
from tests.intake.test_sanitise import CANARY, jpeg_with_metadata

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

TEXT = "青山镇党委书记赵某某违规收受辖区企业购物卡，并安排亲属承揽工程。"
RECEIPT_SHOWN = re.compile(r"\b(\d{4} \d{4} \d{4} \d{4} \d{4})\b")


async def _report(client: httpx.AsyncClient, **extra: str) -> httpx.Response:
    token = csrf_token((await client.get("/report")).text)
    body, headers = multipart(
        {
            "csrf_token": token,
            "accused_name": "赵某某",
            "accused_unit": "青山镇",
            "text": TEXT,
            **extra,
        },
        [("收据.jpg", jpeg_with_metadata(), "image/jpeg")],
    )
    return await client.post("/report", content=body, headers=headers)


async def _status(client: httpx.AsyncClient, receipt: str) -> httpx.Response:
    token = csrf_token((await client.get("/status")).text)
    return await client.post("/status", data={"csrf_token": token, "receipt": receipt})


async def test_pages_are_chinese_static_and_script_free(client: httpx.AsyncClient) -> None:
    for path in ("/", "/report", "/status"):
        response = await client.get(path)
        assert response.status_code == 200
        html = response.text
        assert '<html lang="zh-CN">' in html
        assert "<script" not in html
        assert "style=" not in html
        assert "<style" not in html
        assert "http://" not in html.replace('xmlns="http://', "")
        assert "https://" not in html
    index = (await client.get("/")).text
    for words in ("网络", "电话", "信箱", "不保存您的 IP 地址", "Tor"):
        assert words in index
    form = (await client.get("/report")).text
    assert 'enctype="multipart/form-data"' in form
    assert '<option value="县教育局">' in form  # units from the registry
    assert 'name="keep_original"' in form
    assert form.index('name="keep_original"') < form.index('type="file"')
    css = await client.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_report_shows_the_receipt_once_and_status_opens_with_it(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    response = await _report(client, category_hint="integrity")
    assert response.status_code == 200
    assert str(response.url).endswith("/report")
    found = RECEIPT_SHOWN.search(response.text)
    assert found, "receipt page without a grouped receipt"
    receipt = found.group(1)
    assert "抄写" in response.text
    [(meta, content)] = await open_attachments(demo_runtime, receipt)
    assert meta["name"] == "收据.jpg"
    assert CANARY not in content

    status = await _status(client, receipt.replace(" ", ""))
    assert status.status_code == 200
    assert "已提交" in status.text
    assert "举报已提交" in status.text  # the timeline
    # The receipt goes back only in a hidden field of the POST form, never in a link.
    assert f'name="receipt" value="{receipt}"' in status.text
    assert "?receipt" not in status.text
    assert 'action="/status/messages"' in status.text


async def test_reporter_adds_information_with_a_file(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    receipt = RECEIPT_SHOWN.search((await _report(client)).text).group(1)  # type: ignore[union-attr]
    status_page = (await _status(client, receipt)).text
    body, headers = multipart(
        {
            "csrf_token": csrf_token(status_page),
            "receipt": receipt,
            "text": "补充一份转账截图。",
        },
        [("转账.png", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82", "image/png")],
    )
    added = await client.post("/status/messages", content=body, headers=headers)
    assert added.status_code == 200, added.text
    assert "补充材料已收到" in added.text
    async with demo_runtime.db.reading() as session:
        message = await session.scalar(select(Message))
        assert message is not None
        linked = await session.scalar(select(Attachment).where(Attachment.message_id == message.id))
        assert linked is not None
        case = await session.scalar(select(Case))
        assert case is not None
        assert (
            case.attachment_count == 1
        )  # counted at submission; the new file hangs on the message
    again = await client.post(
        "/status", data={"csrf_token": csrf_token(added.text), "receipt": receipt}
    )
    assert "补充一份转账截图。" in again.text
    assert "您补充了材料" in again.text


async def test_message_errors_explain_and_offer_the_way_back(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    receipt = RECEIPT_SHOWN.search((await _report(client)).text).group(1)  # type: ignore[union-attr]
    token = csrf_token((await _status(client, receipt)).text)
    body, headers = multipart(
        {"csrf_token": token, "receipt": receipt, "text": f"查询码 {receipt} 请回复"},
        [("a.txt", b"x", "text/plain")],
    )
    refused = await client.post("/status/messages", content=body, headers=headers)
    assert refused.status_code == 422
    assert "查询码" in refused.text
    assert 'action="/status"' in refused.text
    assert 'action="/status/messages"' in refused.text  # the form again, text as typed
    assert f"查询码 {receipt} 请回复</textarea>" in refused.text
    body, headers = multipart(
        {"csrf_token": token, "text": "补充"}, [("a.txt", b"x", "text/plain")]
    )
    no_receipt = await client.post("/status/messages", content=body, headers=headers)
    assert no_receipt.status_code == 422
    report_token = csrf_token((await client.get("/report")).text)
    body, headers = multipart(
        {"csrf_token": report_token, "receipt": receipt, "text": "补充"},
        [("a.txt", b"x", "text/plain")],
    )
    wrong_form = await client.post("/status/messages", content=body, headers=headers)
    assert wrong_form.status_code == 403  # the report form's token does not open this one
    async with demo_runtime.db.reading() as session:
        assert await session.scalar(select(Message)) is None


async def test_wrong_receipt_and_bad_tokens_show_the_form_again(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    wrong = await _status(client, "1234 5678 9012 3456 7890")
    assert wrong.status_code == 404
    assert "未找到" in wrong.text
    assert 'name="receipt"' in wrong.text
    malformed = await _status(client, "12345")
    assert malformed.status_code == 422
    assert "20 位数字" in malformed.text

    report_token = csrf_token((await client.get("/report")).text)
    reused = await client.post("/status", data={"csrf_token": report_token, "receipt": "1" * 20})
    assert reused.status_code == 403  # a token is bound to its form
    missing = await client.post("/status", data={"receipt": "1" * 20})
    assert missing.status_code == 403

    body, headers = multipart({"text": TEXT})
    no_token = await client.post("/report", content=body, headers=headers)
    assert no_token.status_code == 403
    assert TEXT in no_token.text  # the reporter's text is given back, not lost
    assert "页面已过期" in no_token.text

    token = csrf_token((await client.get("/report")).text)
    body, headers = multipart({"csrf_token": token, "text": TEXT})
    cross = await client.post(
        "/report", content=body, headers={**headers, "sec-fetch-site": "cross-site"}
    )
    assert cross.status_code == 403
    empty = await client.post(
        "/report", content=multipart({"csrf_token": token, "text": " "})[0], headers=headers
    )
    assert empty.status_code == 422
    assert "内容不能为空" in empty.text
    async with demo_runtime.db.reading() as session:
        assert await session.scalar(select(Case)) is None
