"""The optional receipt reply: off by default; when on, the sender gets a receipt that works."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.runtime import Runtime
from core.settings import Bind, Secret, Settings
from intake.mailbox import MailboxListener
from intake.pipeline import IntakePipeline
from tests.conftest import BACKENDS, make_settings
from tests.intake.test_mailbox import INBOX, SENDER, gbk_mail, send

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


class Relay:
    """The outgoing mail server the reply goes through (a real SMTP server on loopback)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 OK"


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Relay, int]]:
    handler = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="relay"), "127.0.0.1", 0)
    try:
        yield handler, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def settings(tmp_path: Path, fresh_database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        fresh_database_url,
        mailbox_bind=Bind("127.0.0.1", 0),
        mailbox_addresses=(INBOX,),
    )


async def run_listener(runtime: Runtime, settings: Settings) -> MailboxListener:
    listener = MailboxListener(runtime, settings)
    await listener.start()
    return listener


async def test_reply_is_off_by_default(demo_runtime: Runtime, relay: tuple[Relay, int]) -> None:
    handler, port = relay
    settings = replace(demo_runtime.settings, smtp_url=Secret(f"smtp://127.0.0.1:{port}"))
    assert settings.mailbox_receipt_reply is False
    listener = await run_listener(demo_runtime, settings)
    try:
        await send(listener.port, gbk_mail())
        await asyncio.sleep(0.5)
    finally:
        await listener.stop()
    assert handler.received == []


async def test_reply_carries_a_receipt_that_opens_the_case(
    demo_runtime: Runtime, relay: tuple[Relay, int]
) -> None:
    handler, port = relay
    settings = replace(
        demo_runtime.settings,
        smtp_url=Secret(f"smtp://127.0.0.1:{port}"),
        mailbox_receipt_reply=True,
    )
    listener = await run_listener(demo_runtime, settings)
    try:
        await send(listener.port, gbk_mail())
        for _ in range(100):
            if handler.received:
                break
            await asyncio.sleep(0.05)
    finally:
        await listener.stop()
    [(recipients, raw)] = handler.received
    assert recipients == [SENDER]
    reply = email.message_from_bytes(raw)
    assert reply["From"] == INBOX
    body = reply.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode("utf-8")
    match = re.search(r"查询码：(\d{4} \d{4} \d{4} \d{4} \d{4})", text)
    assert match is not None
    assert "任何能打开您这个邮箱的人都能看到查询码" in text
    view = await IntakePipeline(demo_runtime).reporter_view(match.group(1))
    assert view.status.value == "received"
