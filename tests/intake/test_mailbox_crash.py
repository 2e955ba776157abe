"""`xuncha serve` killed while a mail is coming in: the sender retries and exactly one case results.

This runs the real command in a child process (both apps, the mailbox, the database) and
SIGKILLs it in the middle of DATA, the way a power cut or the OOM killer would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.bootstrap import initialise
from core.db import Database
from core.models import Case
from core.settings import Settings
from tests.conftest import BACKENDS
from tests.intake.test_mailbox import INBOX, SENDER, crlf, gbk_mail
from tests.processes import free_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

ROOT = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"xuncha serve exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the mailbox did not start listening")


@pytest.fixture
def serve_env(settings: Settings, fresh_database_url: str) -> dict[str, str]:
    mailbox = free_port()
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")},
        "XUNCHA_DATA_DIR": str(settings.data_dir),
        "XUNCHA_DATABASE_URL": fresh_database_url,
        "XUNCHA_PUBLIC_BIND": f"127.0.0.1:{free_port()}",
        "XUNCHA_STAFF_BIND": f"127.0.0.1:{free_port()}",
        "XUNCHA_MAILBOX_BIND": f"127.0.0.1:{mailbox}",
        "XUNCHA_MAILBOX_ADDRESSES": INBOX,
        "XUNCHA_RECEIPT_KDF_MEMORY_KIB": "8192",
        "XUNCHA_RECEIPT_KDF_ITERATIONS": "1",
    }


def start_serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "admin.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for_port(int(env["XUNCHA_MAILBOX_BIND"].rpartition(":")[2]), process)
    return process


def half_a_mail_then_kill(port: int, process: subprocess.Popen[bytes], raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        replies = connection.makefile("rb")

        def command(line: bytes, expected: bytes) -> None:
            connection.sendall(line + b"\r\n")
            reply = replies.readline()
            while reply[3:4] == b"-":  # multi-line reply
                reply = replies.readline()
            assert reply.startswith(expected), reply

        assert replies.readline().startswith(b"220")
        command(b"EHLO sender.example", b"250")
        command(b"MAIL FROM:<" + SENDER.encode() + b">", b"250")
        command(b"RCPT TO:<" + INBOX.encode() + b">", b"250")
        command(b"DATA", b"354")
        connection.sendall(raw[: len(raw) // 2])
        time.sleep(0.2)
        process.kill()  # SIGKILL: no cleanup, no goodbye
        process.wait(timeout=10)
        assert replies.read() == b""  # the sender never saw a 250


async def count_cases(database_url: str) -> int:
    db = Database.from_url(database_url)
    try:
        async with db.reading() as session:
            return await session.scalar(select(func.count()).select_from(Case)) or 0
    finally:
        await db.dispose()


async def test_kill_during_data_then_retry_gives_exactly_one_case(
    settings: Settings, fresh_database_url: str, serve_env: dict[str, str]
) -> None:
    await initialise(settings, demo=True)
    port = int(serve_env["XUNCHA_MAILBOX_BIND"].rpartition(":")[2])
    raw = crlf(gbk_mail())

    first = await asyncio.to_thread(start_serve, serve_env)
    try:
        await asyncio.to_thread(half_a_mail_then_kill, port, first, raw)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
        first.stderr.close()  # type: ignore[union-attr]
    assert await count_cases(fresh_database_url) == 0

    # The sending server retries later, against the restarted service.
    second = await asyncio.to_thread(start_serve, serve_env)
    try:

        def retry() -> None:
            with smtplib.SMTP("127.0.0.1", port) as client:
                client.sendmail(SENDER, [INBOX], raw)

        await asyncio.to_thread(retry)
        assert await count_cases(fresh_database_url) == 1
        started = time.monotonic()
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 15) == 0
        # Both apps and the mailbox stop within the 10 s graceful shutdown.
        assert time.monotonic() - started < 10
    finally:
        if second.poll() is None:
            second.kill()
        second.wait()
        second.stderr.close()  # type: ignore[union-attr]
