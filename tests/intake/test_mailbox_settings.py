"""Mailbox settings: a wrong combination stops start-up with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings
from intake.mailbox import check_mailbox_settings


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"XUNCHA_MAILBOX_RECEIPT_REPLY": "true"}, "XUNCHA_MAILBOX_RECEIPT_REPLY"),
        ({"XUNCHA_MAILBOX_RECEIPT_REPLY": "perhaps"}, "XUNCHA_MAILBOX_RECEIPT_REPLY"),
        ({"XUNCHA_MAILBOX_TLS_KEY": "/etc/key.pem"}, "XUNCHA_MAILBOX_TLS_KEY"),
    ],
)
def test_inconsistent_mailbox_settings_are_refused(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert refused.value.variable == variable


def test_reply_is_off_unless_asked_for() -> None:
    assert Settings.from_env({}).mailbox_receipt_reply is False
    on = Settings.from_env(
        {"XUNCHA_MAILBOX_RECEIPT_REPLY": "true", "XUNCHA_SMTP_URL": "smtp://relay.example"}
    )
    assert on.mailbox_receipt_reply is True


def test_listener_needs_addresses_and_a_readable_certificate(tmp_path: Path) -> None:
    env = {"XUNCHA_DATA_DIR": str(tmp_path), "XUNCHA_MAILBOX_BIND": "127.0.0.1:0"}
    with pytest.raises(ConfigError) as no_addresses:
        check_mailbox_settings(Settings.from_env(env))
    assert no_addresses.value.variable == "XUNCHA_MAILBOX_ADDRESSES"
    env["XUNCHA_MAILBOX_ADDRESSES"] = "jubao@xuncha.local"
    bind, context = check_mailbox_settings(Settings.from_env(env))
    assert (bind.host, context) == ("127.0.0.1", None)
    env["XUNCHA_MAILBOX_TLS_CERT"] = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigError) as no_cert:
        check_mailbox_settings(Settings.from_env(env))
    assert no_cert.value.variable == "XUNCHA_MAILBOX_TLS_CERT"
