"""Sending staff mail over SMTP (aiosmtplib), and saying exactly what went wrong.

``XUNCHA_SMTP_URL`` chooses the transport:

* ``smtp://HOST[:25]`` — plain SMTP, no TLS (a relay on the same host or a trusted network);
* ``smtp+starttls://HOST[:587]`` — STARTTLS is required: no silent fallback to plain text;
* ``smtps://HOST[:465]`` — TLS from the first byte.

``user:password@`` in the URL logs in (percent-encode special characters).
Certificates are checked against the system's trust store.

Every failure becomes one `DeliveryFailure` naming its stage (DNS, connect,
TLS, login, sender, recipient, message) and whether retrying can help: only a
5xx answer to the sender, a recipient or the message is permanent; a relay that
is down, a 4xx, and even a failed login (an operator can fix it in time) are
retried.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from urllib.parse import unquote, urlsplit

import aiosmtplib

from core.settings import Secret

SMTP_TIMEOUT_SECONDS = 30.0


class Security(StrEnum):
    PLAIN = "smtp"
    STARTTLS = "smtp+starttls"
    TLS = "smtps"


DEFAULT_PORTS = {Security.PLAIN: 25, Security.STARTTLS: 587, Security.TLS: 465}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: Secret | None = None
    timeout: float = SMTP_TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: Secret) -> SmtpConfig:
        """Parse a URL that `core.settings` has already checked."""
        parts = urlsplit(url.reveal())
        security = Security(parts.scheme)
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or DEFAULT_PORTS[security],
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=Secret(unquote(parts.password)) if parts.password else None,
        )

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Stage(StrEnum):
    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    AUTH = "auth"
    SENDER = "sender"
    RECIPIENT = "recipient"
    MESSAGE = "message"
    PROTOCOL = "protocol"


class DeliveryFailure(Exception):
    """Why a mail did not go; ``permanent`` means retrying the same mail cannot help."""

    def __init__(self, stage: Stage, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.stage = stage
        self.detail = detail
        self.permanent = permanent

    @property
    def breaks_connection(self) -> bool:
        """After these the connection is gone; a recipient or message refusal leaves it usable."""
        return self.stage not in (Stage.SENDER, Stage.RECIPIENT, Stage.MESSAGE)

    def __str__(self) -> str:
        return f"{self.stage.value}: {self.detail}"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _response(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def classify(exc: BaseException, config: SmtpConfig) -> DeliveryFailure:
    """Turn whatever aiosmtplib or the socket raised into one named failure."""
    return (
        _transport_failure(exc, config)
        or _answer_failure(exc, config.address)
        or (_fallback_failure(exc, config.address))
    )


def _transport_failure(exc: BaseException, config: SmtpConfig) -> DeliveryFailure | None:
    where = config.address
    chain = _causes(exc)
    if any(isinstance(e, socket.gaierror) for e in chain):
        return DeliveryFailure(Stage.DNS, f"cannot resolve the host name {config.host!r}")
    tls_errors = [e for e in chain if isinstance(e, ssl.SSLError | ssl.CertificateError)]
    if tls_errors:
        return DeliveryFailure(Stage.TLS, f"TLS with {where} failed: {tls_errors[0]}")
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return DeliveryFailure(
            Stage.CONNECT, f"connection refused by {where} (nothing listens there?)"
        )
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return DeliveryFailure(Stage.TIMEOUT, f"{where} did not answer in time")
    return None


def _answer_failure(exc: BaseException, where: str) -> DeliveryFailure | None:
    """The relay answered, but with a refusal; 5xx is final, 4xx is worth another try."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        stage, what = Stage.RECIPIENT, f"refused the recipient {exc.recipient}"
    elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
        stage, what = Stage.SENDER, f"refused the sender {exc.sender}"
    elif isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # Not permanent: wrong credentials are fixed by an operator, and the mail waits.
        return DeliveryFailure(Stage.AUTH, f"{where} rejected the login: {_response(exc)}")
    elif isinstance(exc, aiosmtplib.SMTPDataError):
        stage, what = Stage.MESSAGE, "refused the message"
    else:
        return None
    return DeliveryFailure(stage, f"{where} {what}: {_response(exc)}", permanent=exc.code >= 500)


def _fallback_failure(exc: BaseException, where: str) -> DeliveryFailure:
    text = str(exc)
    if "AUTH" in text:
        return DeliveryFailure(Stage.AUTH, f"{where}: {text}")
    if "TLS" in text:
        return DeliveryFailure(Stage.TLS, f"{where}: {text}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | OSError):
        return DeliveryFailure(Stage.CONNECT, f"cannot talk to {where}: {text}")
    return DeliveryFailure(Stage.PROTOCOL, f"{where}: {type(exc).__name__}: {text}")


# What aiosmtplib raises, plus what the socket and TLS layers raise beneath it.
_TRANSPORT_ERRORS = (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError)


class MailConnection:
    """One SMTP connection; several mails go over it one after another."""

    def __init__(self, client: aiosmtplib.SMTP, config: SmtpConfig) -> None:
        self._client = client
        self._config = config

    async def send(self, message: EmailMessage) -> None:
        try:
            await self._client.send_message(message)
        except _TRANSPORT_ERRORS as exc:
            raise classify(exc, self._config) from None
        except ValueError:
            # aiosmtplib refuses an address it cannot put on an SMTP command line safely.
            raise DeliveryFailure(
                Stage.RECIPIENT, f"not a deliverable address: {message['To']!r}", permanent=True
            ) from None


class Mailer:
    """Opens connections to the configured relay."""

    connection_type: type[MailConnection] = MailConnection

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password.reveal() if config.password else None,
            use_tls=config.security is Security.TLS,
            # smtp+starttls:// insists on STARTTLS (a relay that does not offer it fails,
            # rather than the mail silently going out in clear); smtp:// never upgrades.
            start_tls=config.security is Security.STARTTLS,
            timeout=config.timeout,
        )
        try:
            await client.connect()
        except _TRANSPORT_ERRORS as exc:
            raise classify(exc, config) from None
        try:
            yield self.connection_type(client, config)
        except BaseException:
            client.close()  # failed or cancelled: drop the line, say nothing more to the relay
            raise
        try:
            await client.quit()
        except _TRANSPORT_ERRORS:
            client.close()
