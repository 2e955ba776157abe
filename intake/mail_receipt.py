"""The optional receipt reply to a mail's sender (``XUNCHA_MAILBOX_RECEIPT_REPLY``, off by default).

Off, a mail reporter has no receipt: they can neither check the status nor read replies,
but nothing about them leaves the server. On, the receipt travels back by mail: whoever can
read that mailbox (the provider, an employer running it, anyone with the password) can
follow the case, and the reply itself is a record that the address wrote to us. The sender
address is used for this one mail, in memory, and never stored or logged
(docs/phone-and-mail.md).

A reply that cannot be sent is dropped after one attempt: it is never queued, because a
queue would have to store the address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from core.settings import Secret, Settings
from crypto import format_receipt

log = logging.getLogger("xuncha.mailbox")

SEND_TIMEOUT_SECONDS = 30.0

REPLY_SUBJECT = "您的来信已收到（查询码）"
REPLY_BODY = """您好：

您寄往县委巡察办举报信箱的来信已经收到并登记。

查询码：{receipt}

请妥善保管查询码，凭它可以在举报网站的“查询”页面查看办理进度、阅读答复、补充材料。
查询码只在本邮件中出现一次，我们不保存查询码，遗失后无法找回。

提示：任何能打开您这个邮箱的人都能看到查询码。如需更好地保护自己，
请记下查询码后删除本邮件，并清空“已删除”文件夹。

本邮件由系统自动发送，请勿直接回复。
"""


@dataclass(frozen=True)
class ReceiptReplier:
    host: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: Secret | None
    from_address: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiptReplier | None:
        if not settings.mailbox_receipt_reply or settings.smtp_url is None:
            return None
        parts = urlsplit(settings.smtp_url.reveal())
        default_port = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[parts.scheme]
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or default_port,
            use_tls=parts.scheme == "smtps",
            start_tls=parts.scheme == "smtp+starttls",
            username=unquote(parts.username) if parts.username else None,
            password=Secret(unquote(parts.password)) if parts.password else None,
            from_address=settings.mailbox_addresses[0],
        )

    def build(self, to: str, receipt: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = to
        message["Subject"] = REPLY_SUBJECT
        message["Message-ID"] = make_msgid(domain=self.from_address.rpartition("@")[2])
        message.set_content(REPLY_BODY.format(receipt=format_receipt(receipt)))
        return message

    async def send(self, to: str, receipt: str) -> None:
        try:
            await aiosmtplib.send(
                self.build(to, receipt),
                hostname=self.host,
                port=self.port,
                use_tls=self.use_tls,
                start_tls=self.start_tls if self.start_tls else False,
                username=self.username,
                password=self.password.reveal() if self.password else None,
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except Exception as exc:  # one attempt only: never queue the address
            log.warning("mailbox: receipt reply not sent (%s)", type(exc).__name__)
