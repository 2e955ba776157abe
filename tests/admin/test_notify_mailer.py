"""The mailer against real SMTP servers on loopback: each failure is named and sorted."""

from __future__ import annotations

import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from admin.mailer import DeliveryFailure, Mailer, Security, SmtpConfig, Stage
from core.errors import ConfigError
from core.settings import Secret, Settings
from tests.admin.notify_support import MailSink, free_port, smtp_server

pytestmark = pytest.mark.anyio


def _message(to: str = "group1@xuncha.local") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply@xuncha.example"
    message["To"] = to
    message["Subject"] = "测试"
    message.set_content("内容")
    return message


async def _send(url: str, to: str = "group1@xuncha.local") -> None:
    async with Mailer(SmtpConfig.from_url(Secret(url))).connect() as connection:
        await connection.send(_message(to))


async def _failure(url: str, to: str = "group1@xuncha.local") -> DeliveryFailure:
    with pytest.raises(DeliveryFailure) as caught:
        await _send(url, to)
    return caught.value


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server certificate no trust store knows, as a real misconfigured relay would have."""
    folder: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(  # noqa: S603 — fixed arguments
        [  # noqa: S607 — the system openssl
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-keyout", str(folder / "key.pem"),
            "-out", str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_urls_parse_to_transport_port_and_login() -> None:
    plain = SmtpConfig.from_url(Secret("smtp://relay.example"))
    assert (plain.host, plain.port, plain.security) == ("relay.example", 25, Security.PLAIN)
    assert plain.username is None
    starttls = SmtpConfig.from_url(Secret("smtp+starttls://u%40x:p%3Aw@relay.example"))
    assert (starttls.port, starttls.security) == (587, Security.STARTTLS)
    assert starttls.username == "u@x"
    assert starttls.password == Secret("p:w")
    assert "p:w" not in repr(starttls)
    implicit = SmtpConfig.from_url(Secret("smtps://[::1]:2465"))
    assert (implicit.address, implicit.security) == ("[::1]:2465", Security.TLS)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("XUNCHA_SMTP_URL", "smtp://relay.example:99999"),
        ("XUNCHA_SMTP_URL", "http://relay.example"),
        ("XUNCHA_MAIL_FROM", "not an address"),
        ("XUNCHA_MAIL_FROM", "Xuncha <noreply@xuncha.local>"),
        ("XUNCHA_STAFF_URL", "staff.example"),
    ],
)
def test_bad_mail_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable


def test_staff_url_defaults_to_the_staff_bind() -> None:
    assert Settings.from_env({}).staff_console_url == "http://127.0.0.1:8001/"
    custom = Settings.from_env({"XUNCHA_STAFF_URL": "https://xuncha.example/staff/"})
    assert custom.staff_console_url == "https://xuncha.example/staff/"
    assert custom.mail_from == "noreply@xuncha.local"


async def test_a_mail_goes_through() -> None:
    sink = MailSink()
    with smtp_server(sink) as port:
        await _send(f"smtp://127.0.0.1:{port}")
    (received,) = sink.messages
    assert received["Subject"] == "测试"


async def test_nothing_listening_is_connection_refused() -> None:
    failure = await _failure(f"smtp://127.0.0.1:{free_port()}")
    assert failure.stage is Stage.CONNECT
    assert "connection refused" in str(failure)
    assert not failure.permanent


async def test_an_unknown_host_is_a_dns_failure() -> None:
    failure = await _failure("smtp://relay.nonexistent.invalid")
    assert failure.stage is Stage.DNS
    assert "relay.nonexistent.invalid" in str(failure)


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [("550 5.1.1 mailbox unavailable", True), ("450 4.2.1 try again later", False)],
)
async def test_a_refused_recipient_is_named(answer: str, permanent: bool) -> None:
    sink = MailSink()
    sink.refuse["group2@xuncha.local"] = answer
    with smtp_server(sink) as port:
        failure = await _failure(f"smtp://127.0.0.1:{port}", "group2@xuncha.local")
        await _send(f"smtp://127.0.0.1:{port}")  # the relay still takes mail for others
    assert failure.stage is Stage.RECIPIENT
    assert failure.permanent is permanent
    assert answer.split()[0] in str(failure)
    assert "group2@xuncha.local" in str(failure)
    assert not failure.breaks_connection
    assert len(sink.raw) == 1


class RejectingData(MailSink):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "554 5.6.0 message refused"


async def test_a_refused_message_is_permanent() -> None:
    with smtp_server(RejectingData()) as port:
        failure = await _failure(f"smtp://127.0.0.1:{port}")
    assert (failure.stage, failure.permanent) == (Stage.MESSAGE, True)
    assert "554" in str(failure)


def _only(login: bytes, password: bytes) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (login, password)
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself

    return authenticate


class RecordingLogins(MailSink):
    def __init__(self) -> None:
        super().__init__()
        self.logged_in: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.logged_in.append(bool(session.authenticated))
        return await super().handle_DATA(server, session, envelope)


async def test_a_wrong_password_is_an_auth_failure_and_the_right_one_sends() -> None:
    sink = RecordingLogins()
    # Login over plain text is for this loopback test only (aiosmtpd warns if it is *required*).
    auth = {"authenticator": _only(b"xuncha", b"s3cret"), "auth_require_tls": False}
    with smtp_server(sink, **auth) as port:
        failure = await _failure(f"smtp://xuncha:wrong@127.0.0.1:{port}")
        await _send(f"smtp://xuncha:s3cret@127.0.0.1:{port}")
    assert failure.stage is Stage.AUTH
    assert not failure.permanent  # an operator fixes credentials; the mail waits meanwhile
    assert "535" in str(failure)
    assert "wrong" not in str(failure)
    assert sink.logged_in == [True]


async def test_smtps_to_a_plain_relay_is_a_tls_failure() -> None:
    with smtp_server(MailSink()) as port:
        failure = await _failure(f"smtps://127.0.0.1:{port}")
    assert failure.stage is Stage.TLS


async def test_starttls_required_but_not_offered_is_a_tls_failure() -> None:
    sink = MailSink()
    with smtp_server(sink) as port:
        failure = await _failure(f"smtp+starttls://127.0.0.1:{port}")
    assert failure.stage is Stage.TLS
    assert "STARTTLS" in str(failure)
    assert sink.raw == []  # nothing went out in clear


async def test_an_untrusted_certificate_is_a_tls_failure(self_signed: ssl.SSLContext) -> None:
    with smtp_server(MailSink(), tls_context=self_signed) as port:
        failure = await _failure(f"smtp+starttls://127.0.0.1:{port}")
    assert failure.stage is Stage.TLS
    assert "certificate" in str(failure).lower()
