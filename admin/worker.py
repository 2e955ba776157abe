"""The notification worker: outbox rows in, content-free staff mails out.

One tick: fan out body events, batch due notices, write the daily digest,
then claim and send due mails. The clock and the random source are injected,
so tests move time instead of sleeping. With ``XUNCHA_SMTP_URL`` unset no
worker runs: rows stay in the outbox and go out once a relay is configured.

Logs carry counts and error stages only — never an address, a payload or a
database error's text (which can quote parameters).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin.mailer import DeliveryFailure, Mailer, SmtpConfig, Stage
from admin.notify import MailTemplate, batch_notices, compose_mail, fan_out, write_digest
from core.county import COUNTY_TIMEZONE
from core.invitations import purge_expired_invitations
from core.models import User
from core.outbox import (
    DEFAULT_RETRY,
    Claim,
    OutboxKind,
    OutboxStatus,
    RetryPolicy,
    claim,
    mark_done,
    mark_retry,
    purge_finished,
)
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("xuncha.notify")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerConfig:
    staff_url: str
    sender: str
    batch_window: timedelta = timedelta(seconds=600)
    poll_seconds: float = 5.0
    claim_limit: int = 20
    # Longer than the worst send of one claimed batch, so that two live workers never
    # hold one mail; a dead worker's mails go out again once it runs out.
    lease: timedelta = timedelta(minutes=15)
    retry: RetryPolicy = DEFAULT_RETRY
    digest_hour: int = 8  # county time
    keep_finished: timedelta = timedelta(days=30)
    stop_grace_seconds: float = 3.0  # well inside `xuncha serve`'s 10 s shutdown

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            staff_url=settings.staff_console_url,
            sender=settings.mail_from,
            batch_window=timedelta(seconds=settings.notify_batch_seconds),
        )


@dataclass
class TickReport:
    notices: int = 0
    batched: int = 0
    digests: int | None = None
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)


class NotificationWorker:
    def __init__(
        self,
        runtime: Runtime,
        mailer: Mailer,
        config: WorkerConfig,
        *,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        self.db = runtime.db
        self.mailer = mailer
        self.config = config
        self.clock = clock
        # Jitter only spreads retries in time; it protects nothing, so any PRNG will do.
        self.rng = rng or random.Random()  # noqa: S311 — not for secrets

    async def run_once(self) -> TickReport:
        report = TickReport()
        async with self.db.transaction() as session:
            report.notices = await fan_out(session, self.clock())
        async with self.db.transaction() as session:
            report.batched = await batch_notices(session, self.clock(), self.config.batch_window)
        report.digests = await self._digest_if_due()
        await self.deliver_due(report)
        return report

    async def _digest_if_due(self) -> int | None:
        now = self.clock()
        local = now.astimezone(COUNTY_TIMEZONE)
        if local.hour < self.config.digest_hour:
            return None
        try:
            async with self.db.transaction() as session:
                written = await write_digest(session, local.date(), now)
                if written is not None:
                    await purge_finished(session, now - self.config.keep_finished)
                return written
        except IntegrityError:
            return None  # another worker wrote today's digest at the same moment

    async def deliver_due(self, report: TickReport) -> None:
        async with self.db.transaction() as session:
            claims = await claim(
                session,
                OutboxKind.SEND_MAIL,
                self.clock(),
                limit=self.config.claim_limit,
                lease=self.config.lease,
            )
        report.claimed = len(claims)
        if not claims:
            return
        addresses = await self._addresses({str(c.payload.get("user_id")) for c in claims})
        remaining: list[tuple[Claim, str]] = []
        for claimed in claims:
            address = addresses.get(str(claimed.payload.get("user_id")))
            if address is None:
                await self._finish(
                    claimed, OutboxStatus.SKIPPED, "recipient disabled or no address"
                )
                report.skipped += 1
            else:
                remaining.append((claimed, address))
        await self._send_all(remaining, report)

    async def _send_all(self, remaining: list[tuple[Claim, str]], report: TickReport) -> None:
        try:
            async with self.mailer.connect() as connection:
                while remaining:
                    claimed, address = remaining[0]
                    try:
                        await connection.send(self._compose(claimed, address))
                    except DeliveryFailure as failure:
                        if failure.breaks_connection:
                            raise
                        remaining.pop(0)
                        await self._failed(claimed, failure, report)
                        continue
                    # Sent: from here until the mark commits, a crash means one resend.
                    remaining.pop(0)
                    await self._finish(claimed, OutboxStatus.DONE)
                    report.sent += 1
        except DeliveryFailure as failure:
            for claimed, _ in remaining:
                await self._failed(claimed, failure, report)

    def _compose(self, claimed: Claim, address: str) -> EmailMessage:
        """The mail for a claim; a row or an address that cannot make one fails for good.

        Without this, one bad row would end every tick with an exception, stay
        claimed, and come back forever instead of showing up as failed.
        """
        try:
            return compose_mail(
                MailTemplate(str(claimed.payload.get("template", MailTemplate.NOTICE.value))),
                count=int(claimed.payload.get("count", 1)),
                recipient=address,
                sender=self.config.sender,
                staff_url=self.config.staff_url,
                idempotency_key=claimed.idempotency_key,
                sent_at=self.clock(),
            )
        except (ValueError, TypeError) as exc:
            raise DeliveryFailure(
                Stage.RECIPIENT, f"cannot write this mail ({type(exc).__name__})", permanent=True
            ) from None

    async def _addresses(self, user_ids: set[str]) -> dict[str, str]:
        """Checked again at send time: a user disabled since the event gets nothing."""
        async with self.db.reading() as session:
            rows = await session.execute(
                select(User.id, User.email).where(
                    User.id.in_(user_ids), User.disabled_at.is_(None), User.email.is_not(None)
                )
            )
            return {user_id: email for user_id, email in rows if email}

    async def _finish(self, claimed: Claim, status: OutboxStatus, note: str | None = None) -> None:
        async with self.db.transaction() as session:
            await mark_done(session, claimed, self.clock(), status, note)

    async def _failed(self, claimed: Claim, failure: DeliveryFailure, report: TickReport) -> None:
        async with self.db.transaction() as session:
            outcome = await mark_retry(
                session,
                claimed,
                self.clock(),
                str(failure),
                permanent=failure.permanent,
                policy=self.config.retry,
                rng=self.rng,
            )
        if outcome is OutboxStatus.FAILED:
            report.failed += 1
        else:
            report.retrying += 1
        report.failures.append(failure.stage.value)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set; a stop mid-tick waits briefly, then cancels the tick."""
        while not stop.is_set():
            tick = asyncio.ensure_future(self.run_once())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({tick, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not tick.done():
                # A mail sent but not yet marked goes out once more after the lease: at most
                # one duplicate, and nothing lost.
                await asyncio.wait({tick}, timeout=self.config.stop_grace_seconds)
            if not tick.done():
                tick.cancel()
                await asyncio.wait({tick}, timeout=self.config.stop_grace_seconds)
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
            self._log_tick(tick)
            if stop.is_set():
                return
            if self._claimed_a_full_batch(tick):
                continue  # a backlog (after an outage): go on at once rather than every poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.poll_seconds)

    def _claimed_a_full_batch(self, tick: asyncio.Future[TickReport]) -> bool:
        if not tick.done() or tick.cancelled() or tick.exception() is not None:
            return False
        return tick.result().claimed >= self.config.claim_limit

    def _log_tick(self, tick: asyncio.Future[TickReport]) -> None:
        if not tick.done() or tick.cancelled():
            log.info("notification worker stopped mid-tick")
            return
        error = tick.exception()
        if error is not None:
            log.error("notification tick failed: %s", type(error).__name__)
            return
        report = tick.result()
        if report.sent or report.retrying or report.failed or report.skipped:
            log.info(
                "notifications: sent %d, retrying %d, failed %d, skipped %d (%s)",
                report.sent,
                report.retrying,
                report.failed,
                report.skipped,
                ", ".join(sorted(set(report.failures))) or "no errors",
            )


def notification_services(
    runtime: Runtime, stop: asyncio.Event, announce: Callable[[str], None] = log.info
) -> list[Awaitable[None]]:
    """For `admin.serve.run`: the worker, or nothing when no SMTP relay is configured."""
    settings = runtime.settings
    if settings.smtp_url is None:
        announce("notify  off (XUNCHA_SMTP_URL unset: notifications stay in the outbox)")
        return []
    mailer = Mailer(SmtpConfig.from_url(settings.smtp_url))
    announce(f"notify  {mailer.config.security.value}://{mailer.config.address}")
    worker = NotificationWorker(runtime, mailer, WorkerConfig.from_settings(settings))
    return [worker.run(stop)]


@dataclass
class InvitationPurge:
    """Clears invitations that expired unused (``core.invitations``), once per ``interval``.

    It runs whether or not mail is configured: an expired token should not linger as a hash
    and a sealed key just because the county has no SMTP relay.
    """

    runtime: Runtime
    clock: Clock = system_clock
    interval: timedelta = timedelta(hours=1)

    async def run_once(self) -> list[str]:
        async with self.runtime.db.transaction() as session:
            return await purge_expired_invitations(session, at=self.clock())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                purged = await self.run_once()
            except Exception as exc:  # one failed run must not end the loop; the next retries
                log.error("invitation purge failed: %s", type(exc).__name__)
            else:
                if purged:
                    log.info("expired invitations purged: %d", len(purged))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval.total_seconds())


def maintenance_services(runtime: Runtime, stop: asyncio.Event) -> list[Awaitable[None]]:
    """For `admin.serve.run`: periodic jobs that need no mail relay."""
    return [InvitationPurge(runtime).run(stop)]
