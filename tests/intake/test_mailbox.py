"""The mailbox listener over real SMTP and LMTP sessions on a loopback port, on both databases."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import func, select

from core.models import Attachment, BlobChunk, Case, CaseField, Event, OutboxItem
from core.runtime import Runtime
from core.settings import Bind, Settings
from intake.mailbox import MAX_SESSIONS, MailboxListener
from tests.conftest import BACKENDS, make_settings
from tests.intake.sealed_case_reader import open_all_cases

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

INBOX = "jubao@xuncha.local"
SECOND_INBOX = "xinxiang@xuncha.local"
SENDER = "whistle.blower.7@example.net"
SENDER_IP = "203.0.113.77"
MESSAGE_ID = "<unique-9f3a2b@mail.example.net>"

REPORT_TEXT = "县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。"


@pytest.fixture
def settings(tmp_path: Path, fresh_database_url: str) -> Iterator[Settings]:
    return make_settings(
        tmp_path,
        fresh_database_url,
        mailbox_bind=Bind("127.0.0.1", 0),
        mailbox_addresses=(INBOX, SECOND_INBOX),
        mailbox_max_bytes=256 * 1024,
    )


@pytest.fixture
async def listener(demo_runtime: Runtime) -> AsyncIterator[MailboxListener]:
    mailbox = MailboxListener(demo_runtime)
    await mailbox.start()
    try:
        yield mailbox
    finally:
        await mailbox.stop()


def identifying_headers(message: EmailMessage | MIMEMultipart) -> None:
    """What a real mail carries about its sender; none of it may be stored."""
    message["From"] = f"张三 <{SENDER}>"
    message["To"] = INBOX
    message["Message-ID"] = MESSAGE_ID
    message["X-Originating-IP"] = f"[{SENDER_IP}]"
    message["Received"] = f"from laptop ([{SENDER_IP}]) by mail.example.net; Sat, 28 Nov 2026"
    message["DKIM-Signature"] = "v=1; a=rsa-sha256; d=example.net; s=sel; b=AbCdEf0123"


def gbk_mail() -> bytes:
    # Labelled GB2312, as many clients do, but 镕 exists only in GBK.
    body = REPORT_TEXT + "另据反映，朱镕某知情。"
    message = MIMEText(body, "plain", "gb18030")
    del message["Content-Type"]
    message["Content-Type"] = 'text/plain; charset="GB2312"'
    message["Subject"] = "=?GBK?B?" + _b64("举报县教育局王某某".encode("gbk")) + "?="
    identifying_headers(message)  # type: ignore[arg-type]
    return message.as_bytes()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


async def send(port: int, raw: bytes, to: list[str] | None = None) -> None:
    def run() -> None:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail(SENDER, to or [INBOX], crlf(raw))

    await asyncio.to_thread(run)


async def deliver_lmtp(port: int, raw: bytes, recipients: list[str]) -> list[int]:
    """An LMTP delivery; smtplib reads one reply after DATA, LMTP sends one per recipient."""

    def run() -> list[int]:
        with smtplib.LMTP("127.0.0.1", port) as client:
            client.ehlo()  # sends LHLO
            client.mail(SENDER)
            for recipient in recipients:
                assert client.rcpt(recipient)[0] == 250
            codes = [client.data(crlf(raw))[0]]
            codes += [client.getreply()[0] for _ in recipients[1:]]
            return codes

    return await asyncio.to_thread(run)


def crlf(raw: bytes) -> bytes:
    """Mail on the wire has CRLF line ends (smtplib sends bytes as they are)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def assert_nothing_stored(runtime: Runtime) -> None:
    for model in (Case, CaseField, Attachment, BlobChunk, OutboxItem):
        assert await count(runtime, model) == 0, model.__name__


async def test_gbk_mail_becomes_a_mail_case_without_sender_traces(
    demo_runtime: Runtime, listener: MailboxListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await send(listener.port, gbk_mail())
    [opened] = await open_all_cases(demo_runtime)
    assert opened.case.channel == "mail"
    assert "主题：举报县教育局王某某" in opened.text
    assert "朱镕某" in opened.text
    assert REPORT_TEXT in opened.text
    # Routed on the text like any report: 县教育局 is inspected by 第一巡察组 in the demo round.
    assert opened.case.problem_type == "violation_lead"
    for trace in (SENDER, SENDER_IP, MESSAGE_ID.strip("<>"), "张三", "DKIM", "example.net"):
        assert trace not in opened.text
        assert trace not in caplog.text
    assert "127.0.0.1" not in caplog.text
    async with demo_runtime.db.reading() as session:
        details = " ".join(str(e.detail) for e in await session.scalars(select(Event)))
    assert SENDER not in details


async def test_html_only_mail_is_turned_into_plain_text(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<p>青山镇镇长<b>李某</b>挪用扶贫资金。</p><ul><li>时间：今年三月</li><li>金额：五十万元</li>"
        '</ul><img src="https://tracker.example/p.gif"><a href="https://evidence.example/1">证据</a>'
        "</body></html>"
    )
    message = MIMEText(html, "html", "utf-8")
    message["Subject"] = "反映问题"
    identifying_headers(message)  # type: ignore[arg-type]
    await send(listener.port, message.as_bytes())
    [opened] = await open_all_cases(demo_runtime)
    assert "青山镇镇长李某挪用扶贫资金。" in opened.text
    assert "• 金额：五十万元" in opened.text
    assert "证据（https://evidence.example/1）" in opened.text
    for markup in ("<", ">", "alert", "color:red", "tracker.example"):
        assert markup not in opened.text


async def test_forwarded_message_and_attachments_over_lmtp(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    inner = MIMEMultipart()
    inner["From"] = "局长 <juzhang@jyj.example.gov.cn>"
    inner["To"] = f"张三 <{SENDER}>"
    inner["Subject"] = "关于食堂工程的安排"
    inner["Date"] = "Mon, 02 Nov 2026 09:00:00 +0800"
    inner.attach(MIMEText("工程直接給老李那家公司，不用招標。", "plain", "big5"))
    inner.attach(_attachment(pdf_with_author(), "application/pdf", "合同.pdf"))
    outer = MIMEMultipart()
    outer["Subject"] = "转发：关于食堂工程的安排"
    identifying_headers(outer)
    outer.attach(MIMEText(REPORT_TEXT, "plain", "utf-8"))
    outer.attach(MIMEMessage(inner))
    outer.attach(_attachment(jpeg_with_metadata(), "image/jpeg", "现场照片.jpg"))
    # LMTP to both accepted addresses: one reply per recipient, one case.
    codes = await deliver_lmtp(listener.port, outer.as_bytes(), [INBOX, SECOND_INBOX])
    assert codes == [250, 250]
    [opened] = await open_all_cases(demo_runtime)
    assert REPORT_TEXT in opened.text
    assert "—— 转发的邮件 ——\n主题：关于食堂工程的安排" in opened.text
    assert "工程直接給老李那家公司，不用招標。" in opened.text
    # The forwarded mail's headers would name the reporter as its recipient.
    for trace in (SENDER, "juzhang@", "张三", "2026"):
        assert trace not in opened.text
    files = {a.meta["name"]: a for a in opened.attachments}
    assert set(files) == {"合同.pdf", "现场照片.jpg"}
    assert opened.case.attachment_count == 2
    # Sanitised as on the web: the photo keeps its pixels but not its EXIF/GPS, the PDF its
    # pages but not its author.
    assert all(a.meta["sanitised"] for a in opened.attachments)
    photo = Image.open(io.BytesIO(files["现场照片.jpg"].data))
    assert photo.size == (32, 24)
    assert dict(photo.getexif()) == {}
    assert CANARY.encode() not in files["现场照片.jpg"].data
    with pikepdf.open(io.BytesIO(files["合同.pdf"].data)) as pdf:
        assert len(pdf.pages) == 1
        assert "/Author" not in pdf.docinfo
    assert CANARY.encode() not in files["合同.pdf"].data


CANARY = "Canary-5e1d"


def jpeg_with_metadata() -> bytes:
    """A photo as a phone takes it: camera model and GPS position in EXIF."""
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = image.getexif()
    exif[0x0110] = CANARY + "Model"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 5.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def pdf_with_author() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = CANARY + "author"
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)
    return buffer.getvalue()


async def test_executable_attachment_bounces_and_leaves_nothing(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    message = MIMEMultipart()
    message["Subject"] = "材料"
    message.attach(MIMEText(REPORT_TEXT, "plain", "utf-8"))
    message.attach(_attachment(b"MZ\x90\x00" + bytes(200), "application/octet-stream", "材料.exe"))
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(listener.port, message.as_bytes())
    assert refused.value.smtp_code == 554
    assert b"5.7.1" in refused.value.smtp_error
    await assert_nothing_stored(demo_runtime)


def _attachment(data: bytes, content_type: str, filename: str) -> MIMEApplication:
    part = MIMEApplication(data, content_type.split("/")[1])
    part.replace_header("Content-Type", content_type)
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    return part


async def test_oversized_mail_is_refused_with_552_and_nothing_stored(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    message = MIMEMultipart()
    message["Subject"] = "大附件"
    message.attach(MIMEText(REPORT_TEXT, "plain", "utf-8"))
    message.attach(_attachment(b"x" * 300 * 1024, "application/octet-stream", "big.bin"))
    raw = crlf(message.as_bytes())
    # A client that announces the size is refused at MAIL FROM ...
    with pytest.raises(smtplib.SMTPSenderRefused) as announced:
        await send(listener.port, raw)
    assert announced.value.smtp_code == 552

    # ... one that does not is refused after DATA.
    def without_size() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", listener.port) as client:
            client.ehlo()
            client.mail(SENDER)
            client.rcpt(INBOX)
            return client.data(raw)

    code, _reply = await asyncio.to_thread(without_size)
    assert code == 552
    await assert_nothing_stored(demo_runtime)


async def test_unknown_recipient_is_refused_at_rcpt(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(listener.port, gbk_mail(), ["someone-else@xuncha.local"])
    [(code, _text)] = refused.value.recipients.values()
    assert code == 550
    await assert_nothing_stored(demo_runtime)


async def test_malformed_mail_gets_a_clear_error_and_leaves_nothing(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    broken = (
        b"Subject: broken\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed\r\n\r\nno boundary anywhere\r\n"
    )
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(listener.port, broken)
    assert refused.value.smtp_code == 554
    assert b"5.6.0" in refused.value.smtp_error
    with pytest.raises(smtplib.SMTPDataError):
        await send(listener.port, b"Subject: \r\n\r\n   \r\n")
    await assert_nothing_stored(demo_runtime)


async def test_starttls_is_offered_with_a_certificate(
    demo_runtime: Runtime, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = shutil.which("openssl")
    assert openssl is not None, "the STARTTLS test needs the openssl command"
    subprocess.run(  # noqa: S603 — fixed arguments, a throwaway test certificate
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=xuncha.local", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    settings = replace(demo_runtime.settings, mailbox_tls_cert=cert, mailbox_tls_key=key)
    listener = MailboxListener(demo_runtime, settings)
    await listener.start()
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False

    def over_tls() -> None:
        with smtplib.SMTP("127.0.0.1", listener.port) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo()
            client.sendmail(SENDER, [INBOX], gbk_mail())

    try:
        await asyncio.to_thread(over_tls)
    finally:
        await listener.stop()
    assert await count(demo_runtime, Case) == 1


async def test_connections_beyond_the_session_limit_are_told_to_retry(
    demo_runtime: Runtime, listener: MailboxListener
) -> None:
    # Each session may hold a whole mail in memory, so their number is bounded.
    writers = []
    try:
        for _ in range(MAX_SESSIONS):
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writers.append(writer)
            assert (await reader.readline()).startswith(b"220")
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writers.append(writer)
        assert (await reader.readline()).startswith(b"421 4.3.2")
        assert await reader.read() == b""
    finally:
        for writer in writers:
            writer.close()
            await writer.wait_closed()
    await asyncio.sleep(0.05)
    await send(listener.port, gbk_mail())  # capacity is back once they are gone
    assert await count(demo_runtime, Case) == 1
