"""The 信箱 channel by e-mail: an SMTP and LMTP listener that turns mail into cases.

One port speaks both protocols: a client that greets with EHLO/HELO gets SMTP, one that
greets with LHLO gets LMTP (one reply per recipient after DATA), so a mail server in front
can hand mail over either way. Only ``XUNCHA_MAILBOX_ADDRESSES`` are accepted (550 at RCPT
for anything else); mail larger than ``XUNCHA_MAILBOX_MAX_BYTES`` gets 552.

Anonymity: the connecting address, the HELO name, the envelope sender and every header
except Subject are never stored or logged. aiosmtpd logs peers, senders and recipients on
its ``mail.log`` logger, so that logger is switched off here, and the session object does
not even keep the peer address. The envelope sender stays in memory only when the optional
receipt reply is on (docs/phone-and-mail.md explains what that costs).

Durability: ``250`` is sent only after the case is committed. If the process dies while a
mail is being received or stored, the sending server sees no ``250`` and retries later, and
the retry produces the one case. Mail we cannot read gets a 5xx and leaves nothing behind; a
failure of ours gets ``451`` so the sender retries.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from core.cases import Channel, NewReport
from core.errors import ConfigError, InvalidInput
from core.runtime import Runtime
from core.settings import Bind, Settings
from intake.mail_receipt import ReceiptReplier
from intake.mime import MalformedMail, read_mail
from intake.pipeline import Draft, IntakePipeline
from intake.sanitise import AttachmentTooLarge, RefusedAttachment, UnreadableAttachment
from intake.sealed_files import DraftFiles

log = logging.getLogger("xuncha.mailbox")

# aiosmtpd logs every peer address, envelope sender and recipient at INFO level (SPEC §3).
logging.getLogger("mail.log").disabled = True

GRACE_SECONDS = 5.0  # in-flight mails may finish on shutdown; `xuncha serve` stops within 10 s
IDLE_TIMEOUT_SECONDS = 120.0
MAX_SESSIONS = 32  # each session may buffer one whole mail in memory
WITHHELD_SENDER = "withheld"

ACCEPTED = "250 2.0.0 Message accepted"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, please try again later"
BUSY = b"421 4.3.2 Too many connections, please try again later\r\n"


class _AnonymousSession(Session):
    """A session that refuses to hold the peer address aiosmtpd hands it."""

    @property
    def peer(self) -> None:
        return None

    @peer.setter
    def peer(self, _value: object) -> None:
        pass


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP, plus LHLO for LMTP on the same port, without peer addresses."""

    def __init__(self, handler: MailboxHandler, listener: MailboxListener, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.lmtp = False
        self.listener = listener

    def _create_session(self) -> Session:
        return _AnonymousSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.listener.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.listener.sessions.discard(self)
        super().connection_lost(error)

    async def smtp_HELO(self, hostname: str) -> None:
        self.lmtp = False
        await super().smtp_HELO(hostname)

    async def smtp_EHLO(self, hostname: str) -> None:
        self.lmtp = False
        await super().smtp_EHLO(hostname)

    @syntax("LHLO hostname")
    async def smtp_LHLO(self, hostname: str) -> None:
        """The LMTP greeting (RFC 2033)."""
        self.lmtp = True
        await super().smtp_EHLO(hostname)


class _Busy(asyncio.Protocol):
    """Answers a connection beyond MAX_SESSIONS with 421 and hangs up."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)  # noqa: S101 — TCP transports write
        transport.write(BUSY)
        transport.close()


# What the sanitiser refuses, as SMTP answers (the sender's server turns them into a bounce).
ATTACHMENT_REPLIES: dict[type[InvalidInput], str] = {
    RefusedAttachment: "554 5.7.1 Executable attachments are not accepted",
    UnreadableAttachment: "554 5.6.0 An attachment is damaged or encrypted and cannot be cleaned",
    AttachmentTooLarge: "552 5.3.4 An attachment is too large",
}


async def submit_mail(pipeline: IntakePipeline, settings: Settings, raw: bytes) -> str:
    """Parse, sanitise and seal a mail, then submit it; nothing is stored unless all succeed."""
    content = await asyncio.to_thread(
        read_mail,
        raw,
        max_attachments=settings.max_attachments,
        max_attachment_bytes=settings.max_attachment_bytes,
    )
    draft = Draft()
    async with DraftFiles(draft, max_file_bytes=settings.max_attachment_bytes) as files:
        for attachment in content.attachments:
            await files.add(attachment.filename, attachment.content_type, attachment.data)
        return await pipeline.submit(NewReport(Channel.MAIL, content.text), draft)


class MailboxHandler:
    """aiosmtpd hooks: who may be written to, and what becomes of a message."""

    def __init__(self, runtime: Runtime, listener: MailboxListener, settings: Settings) -> None:
        self.settings = settings
        self.pipeline = IntakePipeline(runtime)
        self.listener = listener
        self.accepted = frozenset(a.lower() for a in self.settings.mailbox_addresses)
        self.replier = ReceiptReplier.from_settings(self.settings)

    async def handle_MAIL(
        self,
        server: IntakeSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        # The sender is kept (in memory, for this message only) just to send a receipt reply.
        envelope.mail_from = address if self.replier is not None and address else WITHHELD_SENDER
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: IntakeSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if address.lower() not in self.accepted:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: IntakeSMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        envelope.content = envelope.original_content = None
        if self.listener.stopping:
            reply = SHUTTING_DOWN
        else:
            with self.listener.busy():
                reply = await self._store(raw, envelope.mail_from)
        # LMTP answers once per accepted recipient; all of them share the one case.
        return "\r\n".join([reply] * len(envelope.rcpt_tos)) if server.lmtp else reply

    async def _store(self, raw: bytes, sender: str | None) -> str:
        try:
            receipt = await submit_mail(self.pipeline, self.settings, raw)
        except MalformedMail as exc:
            return exc.smtp_reply
        except InvalidInput as exc:
            return ATTACHMENT_REPLIES.get(type(exc), "554 5.6.0 Message content not acceptable")
        except Exception as exc:  # any failure of ours: the sender keeps the mail and retries
            log.error("mailbox: a mail could not be stored (%s)", type(exc).__name__)
            return TEMPORARY_FAILURE
        if self.replier is not None and sender and sender != WITHHELD_SENDER:
            self.listener.spawn(self.replier.send(sender, receipt))
        return ACCEPTED


class MailboxListener:
    """Owns the listening socket, the live sessions, and a clean stop."""

    def __init__(self, runtime: Runtime, settings: Settings | None = None) -> None:
        settings = settings or runtime.settings
        self.bind, self.tls_context = check_mailbox_settings(settings)
        self.settings = settings
        self.handler = MailboxHandler(runtime, self, settings)
        self.sessions: set[IntakeSMTP] = set()
        self.stopping = False
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    def _protocol(self) -> asyncio.Protocol:
        if len(self.sessions) >= MAX_SESSIONS:
            return _Busy()
        return IntakeSMTP(
            self.handler,
            self,
            data_size_limit=self.settings.mailbox_max_bytes,
            enable_SMTPUTF8=True,
            hostname=self.settings.mailbox_addresses[0].rpartition("@")[2],
            ident="Xuncha mailbox",
            tls_context=self.tls_context,
            timeout=IDLE_TIMEOUT_SECONDS,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
        )

    @property
    def port(self) -> int:
        assert self._server is not None  # noqa: S101 — only asked for after start()
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._protocol, self.bind.host, self.bind.port)
        except OSError as exc:
            raise ConfigError(
                "XUNCHA_MAILBOX_BIND", f"cannot listen on {self.bind}: {exc.strerror}"
            ) from None

    def busy(self) -> _BusyScope:
        return _BusyScope(self)

    def spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Refuse new mail, let mails being stored finish (up to ``grace``), then hang up."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("mailbox: stopping with a mail still being stored; its sender will retry")
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)


class _BusyScope:
    def __init__(self, listener: MailboxListener) -> None:
        self.listener = listener

    def __enter__(self) -> None:
        self.listener._busy += 1
        self.listener._idle.clear()

    def __exit__(self, *_exc: object) -> None:
        self.listener._busy -= 1
        if self.listener._busy == 0:
            self.listener._idle.set()


def check_mailbox_settings(settings: Settings) -> tuple[Bind, ssl.SSLContext | None]:
    """The bind and the STARTTLS context, or ConfigError naming what to fix."""
    if settings.mailbox_bind is None:
        raise ConfigError("XUNCHA_MAILBOX_BIND", "not set")
    if not settings.mailbox_addresses:
        raise ConfigError(
            "XUNCHA_MAILBOX_ADDRESSES", "set the accepted addresses when the mailbox is on"
        )
    return settings.mailbox_bind, tls_context(settings)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """STARTTLS is offered when a certificate is configured (opportunistic, as MTAs expect)."""
    if settings.mailbox_tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.mailbox_tls_cert, settings.mailbox_tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            "XUNCHA_MAILBOX_TLS_CERT", f"cannot load the certificate: {exc}"
        ) from None
    return context


async def start_mailbox(
    runtime: Runtime, stop: asyncio.Event, announce: Callable[[str], None] = print
) -> Coroutine[Any, Any, None]:
    """Listen now (so a taken port fails start-up at once); return the service to run.

    The service waits for ``stop`` and then stops the listener, so the mailbox shuts down in
    parallel with the two apps, within `xuncha serve`'s graceful period.
    """
    listener = MailboxListener(runtime)
    await listener.start()
    announce(f"mailbox smtp://{listener.bind}/ (SMTP and LMTP)")

    async def serve() -> None:
        try:
            await stop.wait()
        finally:
            await listener.stop()

    return serve()
