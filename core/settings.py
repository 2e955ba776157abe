"""Settings, read from the environment in exactly one place (`Settings.from_env`).

Every variable of SPEC §6 is here with its default. Values that can carry a
password (database and SMTP URLs, the demo password) are wrapped in `Secret`
so that neither `repr` nor a log line shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import ConfigError
from crypto.argon import PASSWORD_ARGON2, RECEIPT_ARGON2, Argon2Params

PREFIX = "XUNCHA_"
SQLITE_FILENAME = "xuncha.sqlite3"
KEY_FILENAME = "xuncha.keys"
DEFAULT_MAIL_FROM = "noreply@xuncha.local"


class Secret:
    """A string that hides itself from `repr` and `str`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Bind:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: Secret
    public_bind: Bind
    staff_bind: Bind
    smtp_url: Secret | None
    mailbox_bind: Bind | None
    mailbox_addresses: tuple[str, ...]
    demo_password: Secret | None
    key_file: Path
    notify_batch_seconds: int
    receipt_kdf: Argon2Params = RECEIPT_ARGON2
    password_kdf: Argon2Params = PASSWORD_ARGON2
    onion_address: str | None = None
    max_attachments: int = 20
    max_attachment_bytes: int = 100 * 1024 * 1024
    mailbox_max_bytes: int = 50 * 1024 * 1024
    mailbox_tls_cert: Path | None = None
    mailbox_tls_key: Path | None = None
    mailbox_receipt_reply: bool = False
    # PBX name -> HMAC secret for /api/v1/pbx/* (docs/phone-and-mail.md).
    pbx_secrets: tuple[tuple[str, Secret], ...] = ()
    kdf_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # How long the router's view of units, rounds and 回避 may be reused (seconds).
    registry_cache_seconds: float = 2.0
    # Public app abuse limits (in memory only; docs/web-channel.md).
    submissions_per_hour: int = 30
    failed_checks_per_hour: int = 20
    failed_checks_per_minute: int = 300
    receipt_check_floor_ms: int = 250
    mail_from: str = DEFAULT_MAIL_FROM
    staff_url: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.reveal().startswith("sqlite")

    @property
    def staff_console_url(self) -> str:
        """Where notification mails point: ``XUNCHA_STAFF_URL``, else the staff bind."""
        return self.staff_url or f"http://{self.staff_bind}/"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value if value not in (None, "") else None

        data_dir = Path(get("DATA_DIR") or "./var")
        database_url = get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / SQLITE_FILENAME}"
        _check_database_url(database_url)
        smtp_url = get("SMTP_URL")
        if smtp_url is not None:
            _check_smtp_url(smtp_url)
        mailbox = get("MAILBOX_BIND")
        addresses = tuple(
            a.strip().lower() for a in (get("MAILBOX_ADDRESSES") or "").split(",") if a.strip()
        )
        for address in addresses:
            if address.count("@") != 1:
                raise ConfigError(PREFIX + "MAILBOX_ADDRESSES", f"not an e-mail address: {address}")
        tls_cert, tls_key = get("MAILBOX_TLS_CERT"), get("MAILBOX_TLS_KEY")
        if tls_key is not None and tls_cert is None:
            raise ConfigError(PREFIX + "MAILBOX_TLS_KEY", "set XUNCHA_MAILBOX_TLS_CERT as well")
        receipt_reply = _flag("MAILBOX_RECEIPT_REPLY", get("MAILBOX_RECEIPT_REPLY"))
        if receipt_reply and smtp_url is None:
            raise ConfigError(PREFIX + "MAILBOX_RECEIPT_REPLY", "needs XUNCHA_SMTP_URL to send")
        demo_password = get("DEMO_PASSWORD")
        key_file = Path(get("KEY_FILE") or data_dir / KEY_FILENAME)
        _check_key_file(key_file)
        mail_from = (get("MAIL_FROM") or DEFAULT_MAIL_FROM).strip()
        if mail_from.count("@") != 1 or any(c in mail_from for c in " <>\r\n"):
            raise ConfigError(PREFIX + "MAIL_FROM", f"not an e-mail address: {mail_from}")
        staff_url = get("STAFF_URL")
        if staff_url is not None and urlsplit(staff_url).scheme not in ("http", "https"):
            raise ConfigError(PREFIX + "STAFF_URL", "expected http:// or https://")
        onion = get("ONION_ADDRESS")
        if onion is not None and not onion.endswith(".onion"):
            raise ConfigError(PREFIX + "ONION_ADDRESS", "must end with .onion")
        return cls(
            data_dir=data_dir,
            database_url=Secret(database_url),
            public_bind=parse_bind("PUBLIC_BIND", get("PUBLIC_BIND") or "127.0.0.1:8000"),
            staff_bind=parse_bind("STAFF_BIND", get("STAFF_BIND") or "127.0.0.1:8001"),
            smtp_url=Secret(smtp_url) if smtp_url else None,
            mailbox_bind=parse_bind("MAILBOX_BIND", mailbox) if mailbox else None,
            mailbox_addresses=addresses,
            demo_password=Secret(demo_password) if demo_password else None,
            key_file=key_file,
            notify_batch_seconds=_int(get, "NOTIFY_BATCH_SECONDS", 600, minimum=0),
            receipt_kdf=Argon2Params(
                memory_kib=_int(get, "RECEIPT_KDF_MEMORY_KIB", 19 * 1024, minimum=8 * 1024),
                iterations=_int(get, "RECEIPT_KDF_ITERATIONS", 2, minimum=1),
                lanes=_int(get, "RECEIPT_KDF_LANES", 1, minimum=1),
            ),
            onion_address=onion,
            max_attachments=_int(get, "MAX_ATTACHMENTS", 20, minimum=0),
            max_attachment_bytes=_int(get, "MAX_ATTACHMENT_BYTES", 100 * 1024 * 1024, minimum=1),
            mailbox_max_bytes=_int(get, "MAILBOX_MAX_BYTES", 50 * 1024 * 1024, minimum=1024),
            mailbox_tls_cert=Path(tls_cert) if tls_cert else None,
            mailbox_tls_key=Path(tls_key) if tls_key else None,
            mailbox_receipt_reply=receipt_reply,
            pbx_secrets=_pbx_secrets(get("PBX_SECRETS")),
            kdf_workers=_int(get, "KDF_WORKERS", os.cpu_count() or 1, minimum=1),
            submissions_per_hour=_int(get, "SUBMISSIONS_PER_HOUR", 30, minimum=1),
            failed_checks_per_hour=_int(get, "FAILED_CHECKS_PER_HOUR", 20, minimum=1),
            failed_checks_per_minute=_int(get, "FAILED_CHECKS_PER_MINUTE", 300, minimum=1),
            receipt_check_floor_ms=_int(get, "RECEIPT_CHECK_FLOOR_MS", 250, minimum=0),
            mail_from=mail_from,
            staff_url=staff_url,
        )


def parse_bind(name: str, value: str) -> Bind:
    """Parse ``host:port`` (IPv6 as ``[::1]:port``); raise ConfigError naming the variable."""
    variable = PREFIX + name
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ConfigError(variable, f"expected HOST:PORT, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(variable, f"write IPv6 addresses in brackets, got {value!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(variable, f"port out of range: {port}")
    return Bind(host, port)


def _int(get: Callable[[str], str | None], name: str, default: int, *, minimum: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(PREFIX + name, f"expected an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(PREFIX + name, f"must be at least {minimum}, got {value}")
    return value


def _flag(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ConfigError(PREFIX + name, f"expected true or false, got {raw!r}")
    return value in ("true", "1", "yes", "on")


def _pbx_secrets(raw: str | None) -> tuple[tuple[str, Secret], ...]:
    """``NAME:HEX,NAME:HEX`` -> ((name, secret), ...); each secret at least 32 random bytes."""
    variable = PREFIX + "PBX_SECRETS"
    pairs: dict[str, Secret] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        name, sep, hex_secret = item.strip().partition(":")
        if not sep or not re.fullmatch(r"[a-z0-9_-]{1,32}", name):
            raise ConfigError(variable, "expected NAME:HEXSECRET,… with lower-case names")
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2}){32,}", hex_secret):
            raise ConfigError(variable, f"the secret of {name!r} must be at least 64 hex digits")
        if name in pairs:
            raise ConfigError(variable, f"{name!r} is named twice")
        pairs[name] = Secret(hex_secret.lower())
    return tuple(pairs.items())


def _check_database_url(url: str) -> None:
    scheme = url.partition("://")[0]
    if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            PREFIX + "DATABASE_URL",
            f"unknown database scheme {scheme!r}; use sqlite+aiosqlite:/// or postgresql+asyncpg://",
        )


def _check_smtp_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        raise ConfigError(
            PREFIX + "SMTP_URL", "expected smtp://, smtps:// or smtp+starttls://HOST[:PORT]"
        )
    try:
        parts.port  # noqa: B018 — urlsplit checks the port only when asked for it
    except ValueError:
        raise ConfigError(PREFIX + "SMTP_URL", "the port is not a number from 0 to 65535") from None


def _check_key_file(path: Path) -> None:
    if path.exists() and not os.access(path, os.R_OK):
        raise ConfigError(PREFIX + "KEY_FILE", f"cannot read {path}")
    if path.exists() and not path.is_file():
        raise ConfigError(PREFIX + "KEY_FILE", f"not a file: {path}")
