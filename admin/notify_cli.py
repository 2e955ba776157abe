"""`xuncha notify test|failed|retry`: check the relay, see and resend what finally failed."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.settings import Settings

# The SMTP client and the database layer are imported by the commands that use them,
# so that `xuncha classify` and friends start without them.

TEST_SUBJECT = "巡察信访举报受理系统：测试邮件"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notify = commands.add_parser("notify", help="staff notifications (SMTP)")
    sub = notify.add_subparsers(dest="notify_command", required=True)
    test = sub.add_parser("test", help="send a test mail; say exactly what failed if it cannot")
    test.add_argument("--to", required=True, metavar="ADDRESS")
    sub.add_parser("failed", help="list notifications that finally failed")
    retry = sub.add_parser("retry", help="queue failed notifications again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], metavar="ID")
    which.add_argument("--all", action="store_true")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.notify_command == "test":
        return await send_test(settings, args.to)
    if args.notify_command == "failed":
        return await list_failed(settings)
    return await retry_failed(settings, list(args.ids), every=args.all)


async def send_test(settings: Settings, to: str) -> int:
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    from admin.mailer import DeliveryFailure, Mailer, SmtpConfig

    if settings.smtp_url is None:
        raise ConfigError("XUNCHA_SMTP_URL", "is not set: no relay to test")
    if to.count("@") != 1 or any(c in to for c in " <>\r\n"):
        raise ConfigError("--to", f"not an e-mail address: {to}")
    mailer = Mailer(SmtpConfig.from_url(settings.smtp_url))
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = TEST_SUBJECT
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"这是一封测试邮件，说明通知邮件可以送达。\n工作台：{settings.staff_console_url}\n"
    )
    where = f"{mailer.config.security.value}://{mailer.config.address}"
    try:
        async with mailer.connect() as connection:
            await connection.send(message)
    except DeliveryFailure as failure:
        print(f"xuncha: test mail via {where} failed at {failure}", file=sys.stderr)
        return 1
    print(f"test mail to {to} accepted by {where}")
    return 0


def _local(moment: datetime | None) -> str:
    from core.county import COUNTY_TIMEZONE

    return moment.astimezone(COUNTY_TIMEZONE).strftime("%Y-%m-%d %H:%M") if moment else "-"


async def list_failed(settings: Settings) -> int:
    from core.db import Database
    from core.outbox import failed_notifications

    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.reading() as session:
            failed = await failed_notifications(session)
    finally:
        await db.dispose()
    if not failed:
        print("no failed notifications")
        return 0
    print("id\trecipient\tqueued\tfailed\ttries\terror")
    for item in failed:
        print(
            f"{item.id}\t{item.username or '(deleted user)'}\t{_local(item.created_at)}\t"
            f"{_local(item.failed_at)}\t{item.attempts}\t{item.last_error or ''}"
        )
    return 0


async def retry_failed(settings: Settings, ids: list[str], *, every: bool) -> int:
    from core.db import Database
    from core.outbox import failed_notifications, requeue_failed

    db = Database.from_url(settings.database_url.reveal())
    try:
        if every:
            async with db.reading() as session:
                ids = [item.id for item in await failed_notifications(session, limit=100_000)]
        async with db.transaction() as session:
            count = await requeue_failed(session, ids, datetime.now(UTC))
    finally:
        await db.dispose()
    print(f"queued {count} failed notification(s) again")
    return 0
