"""`xuncha notify test|failed|retry` and the worker in `xuncha serve`, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from core.county import body_by_name
from core.db import Database
from core.models import OutboxItem, User
from core.outbox import OutboxKind, enqueue
from core.settings import Settings
from tests.admin.notify_support import MailSink, free_port, smtp_server
from tests.processes import XUNCHA, xuncha_env


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return xuncha_env(tmp_path / "data", **extra)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 — our own CLI, fixed arguments
        [*XUNCHA, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_notify_test_sends_a_mail(tmp_path: Path) -> None:
    sink = MailSink()
    with smtp_server(sink) as port:
        env = _env(tmp_path, XUNCHA_SMTP_URL=f"smtp://127.0.0.1:{port}")
        result = _run(["notify", "test", "--to", "xcb@xuncha.local"], env)
    assert result.returncode == 0, result.stderr
    assert f"127.0.0.1:{port}" in _one_line(result.stdout)
    (mail,) = sink.messages
    assert mail["To"] == "xcb@xuncha.local"
    assert mail["From"] == "noreply@xuncha.local"
    assert "http://127.0.0.1:8001/" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_notify_test_says_nothing_listens(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, XUNCHA_SMTP_URL=f"smtp+starttls://127.0.0.1:{port}")
    result = _run(["notify", "test", "--to", "xcb@xuncha.local"], env)
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert f"smtp+starttls://127.0.0.1:{port}" in line
    assert "connection refused" in line


def test_notify_test_names_a_refused_recipient(tmp_path: Path) -> None:
    sink = MailSink()
    sink.refuse["nobody@xuncha.local"] = "550 5.1.1 no such user"
    with smtp_server(sink) as port:
        env = _env(tmp_path, XUNCHA_SMTP_URL=f"smtp://127.0.0.1:{port}")
        result = _run(["notify", "test", "--to", "nobody@xuncha.local"], env)
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert "recipient" in line
    assert "550" in line


def test_notify_test_without_a_relay_names_the_variable(tmp_path: Path) -> None:
    result = _run(["notify", "test", "--to", "xcb@xuncha.local"], _env(tmp_path))
    assert result.returncode == 2
    assert "XUNCHA_SMTP_URL" in _one_line(result.stderr)


async def _fail_one_mail_for(env: dict[str, str], username: str) -> None:
    db = Database.from_url(Settings.from_env(env).database_url.reveal())
    try:
        async with db.transaction() as session:
            user = await session.scalar(select(User).where(User.username == username))
            assert user is not None
            item = await enqueue(
                session, OutboxKind.SEND_MAIL, "failed:1", {"user_id": user.id, "count": 1}
            )
            assert item is not None
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(
                    status="failed",
                    attempts=57,
                    done_at=datetime.now(UTC),
                    last_error="connect: connection refused by relay.example:25",
                )
            )
    finally:
        await db.dispose()


def _in_process(
    args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> str:
    """Run the CLI in this process (faster than a subprocess); returns stdout."""
    from admin.cli import main

    for name, value in env.items():
        if name.startswith("XUNCHA_"):
            monkeypatch.setenv(name, value)
    umask = os.umask(0o077)
    try:
        assert main(args) == 0
    finally:
        os.umask(umask)
    return str(capsys.readouterr().out)


def test_notify_failed_lists_and_retry_requeues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    env = _env(tmp_path)
    assert _run(["init", "--demo"], env).returncode == 0
    listing = _in_process(["notify", "failed"], env, monkeypatch, capsys)
    assert _one_line(listing) == "no failed notifications"
    asyncio.run(_fail_one_mail_for(env, "group2"))
    listing = _in_process(["notify", "failed"], env, monkeypatch, capsys)
    header, row = listing.strip().splitlines()
    assert header.startswith("id\trecipient")
    assert "\tgroup2\t" in row
    assert "\t57\t" in row
    assert row.endswith("connect: connection refused by relay.example:25")
    retried = _in_process(["notify", "retry", "--all"], env, monkeypatch, capsys)
    assert _one_line(retried) == "queued 1 failed notification(s) again"
    listing = _in_process(["notify", "failed"], env, monkeypatch, capsys)
    assert _one_line(listing) == "no failed notifications"


async def _notify_group1(env: dict[str, str]) -> None:
    db = Database.from_url(Settings.from_env(env).database_url.reveal())
    try:
        async with db.transaction() as session:
            body = await body_by_name(session, "第一巡察组")
            payload = {"body_id": body.id, "reason": "case_received"}
            await enqueue(session, OutboxKind.NOTIFY_BODY, "serve:1", payload)
    finally:
        await db.dispose()


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:  # noqa: S310 — http://127.0.0.1
                assert reply.status == 200
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("xuncha serve did not come up")


def test_serve_runs_the_worker_and_stops_in_time(tmp_path: Path) -> None:
    sink = MailSink()
    with smtp_server(sink) as smtp_port:
        staff = free_port()
        env = _env(
            tmp_path,
            XUNCHA_PUBLIC_BIND=f"127.0.0.1:{free_port()}",
            XUNCHA_STAFF_BIND=f"127.0.0.1:{staff}",
            XUNCHA_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            XUNCHA_NOTIFY_BATCH_SECONDS="0",
        )
        assert _run(["init", "--demo"], env).returncode == 0
        asyncio.run(_notify_group1(env))
        process = subprocess.Popen(  # noqa: S603 — our own CLI
            [*XUNCHA, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            sink.wait_for(1, timeout=60)
            _wait_until_up(f"http://127.0.0.1:{staff}/healthz", process)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            assert time.monotonic() - started < 10
            out = process.stdout.read() if process.stdout else ""
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
    assert f"notify  smtp://127.0.0.1:{smtp_port}" in out
    assert [m["To"] for m in sink.messages] == ["group1@xuncha.local"]
