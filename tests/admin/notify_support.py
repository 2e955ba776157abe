"""Test helpers for notifications: a real SMTP server (aiosmtpd) on loopback, a movable clock."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from admin.mailer import Mailer, SmtpConfig
from admin.worker import NotificationWorker, TickReport, WorkerConfig
from core.runtime import Runtime
from core.settings import Secret
from tests.processes import free_port

STAFF_URL = "https://staff.xuncha.example/"
SENDER = "noreply@xuncha.example"


class MailSink:
    """An aiosmtpd handler that keeps what it receives; it can refuse chosen recipients."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.refuse: dict[str, str] = {}
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.raw.append(bytes(envelope.original_content or envelope.content))
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            raws = list(self.raw)
        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in raws
        ]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.raw) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)

    def by_recipient(self) -> dict[str, list[EmailMessage]]:
        found: dict[str, list[EmailMessage]] = {}
        for message in self.messages:
            found.setdefault(str(message["To"]), []).append(message)
        return found


def announced_count(message: EmailMessage) -> int:
    """The one number a notification mail carries."""
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    return int(text.split("您有 ", 1)[1].split(" 项", 1)[0])


@contextmanager
def smtp_server(sink: MailSink, port: int | None = None, **kwargs: Any) -> Iterator[int]:
    port = port or free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class FakeClock:
    """The worker's clock, moved by the test instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_worker(
    runtime: Runtime, port: int, clock: FakeClock, *, batch_seconds: int = 0, **config: Any
) -> NotificationWorker:
    mailer = Mailer(SmtpConfig.from_url(Secret(f"smtp://127.0.0.1:{port}")))
    settings = WorkerConfig(
        staff_url=STAFF_URL,
        sender=SENDER,
        batch_window=timedelta(seconds=batch_seconds),
        **config,
    )
    return NotificationWorker(runtime, mailer, settings, clock=clock)


async def drain(worker: NotificationWorker, clock: FakeClock, *, ticks: int = 50) -> TickReport:
    """Tick until a tick does nothing; returns the sum of what the ticks did."""
    total = TickReport()
    for _ in range(ticks):
        report = await worker.run_once()
        total.sent += report.sent
        total.retrying += report.retrying
        total.failed += report.failed
        total.skipped += report.skipped
        total.batched += report.batched
        total.notices += report.notices
        busy = report.sent + report.retrying + report.failed + report.skipped
        if not (busy or report.batched or report.notices):
            return total
        clock.advance(seconds=1)
    raise AssertionError("the worker did not settle")
