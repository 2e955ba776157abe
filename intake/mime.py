"""A mail message → the text and files of a report (信箱 channel). Pure: bytes in, data out.

What is kept: the Subject (reporters write the gist of a letter there), the text of every
text/plain part, the text of text/html parts (turned into plain text, no markup survives),
the text of forwarded messages, and attachments. What is dropped: every other header, of the
mail and of forwarded mails alike — From/To/Cc (a forwarded mail names the reporter as its
recipient), Received, Message-ID, Date, X-Originating-IP, DKIM and ARC signatures — and
PGP/S-MIME signature parts, which name the signer's key.

Chinese mail arrives in GB2312, GBK, GB18030, UTF-8 and Big5. Mail clients label GBK text as
GB2312 all the time, so the GB family is decoded as GB18030 (a superset of both); Big5 as
Big5-HKSCS for the same reason.
"""

from __future__ import annotations

import email
import email.errors
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message

from core.errors import XunchaError
from intake.html_text import html_to_text

MAX_DEPTH = 12
MAX_PARTS = 500
MAX_FILENAME = 120
TEXT_LIMIT = 20_000

SIGNATURE_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-keys",
    }
)

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "hz-gb-2312": "hz",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "utf8": "utf-8",
    "us-ascii": "utf-8",  # ASCII is UTF-8; mislabelled 8-bit text then still decodes
    "ascii": "utf-8",
}

_STRUCTURE_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
)

# Direction overrides and other invisible formatting can make text read differently from
# what it says; staff must see what the sender wrote.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


class MalformedMail(XunchaError):
    """Mail we refuse; ``smtp_reply`` is the SMTP answer (ASCII, with an enhanced code)."""

    code = "malformed_mail"

    def __init__(self, smtp_reply: str) -> None:
        super().__init__("邮件格式无法识别。")
        self.smtp_reply = smtp_reply


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MailContent:
    text: str
    attachments: tuple[MailAttachment, ...]


@dataclass
class _Collector:
    max_attachments: int
    max_attachment_bytes: int
    texts: list[str] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)
    parts_seen: int = 0

    def add_attachment(self, part: Message, payload: bytes) -> None:
        if len(self.attachments) >= self.max_attachments:
            raise MalformedMail("552 5.3.4 Too many attachments")
        if len(payload) > self.max_attachment_bytes:
            raise MalformedMail("552 5.3.4 An attachment is too large")
        content_type = part.get_content_type()
        name = safe_filename(part.get_filename(), content_type, len(self.attachments) + 1)
        self.attachments.append(MailAttachment(name, content_type, payload))


def read_mail(raw: bytes, *, max_attachments: int, max_attachment_bytes: int) -> MailContent:
    """Turn a raw RFC 5322 message into report text and attachments, or raise MalformedMail."""
    if not raw.strip():
        raise MalformedMail("554 5.6.0 Empty message")
    message = email.message_from_bytes(raw)
    if not message.keys():
        raise MalformedMail("554 5.6.0 Message has no header section")
    collector = _Collector(max_attachments, max_attachment_bytes)
    subject = header_text(message.get("subject"))
    if subject:
        collector.texts.append(f"主题：{subject}")
    _walk(message, 0, collector)
    text = "\n\n".join(t for t in collector.texts if t)
    if not text and not collector.attachments:
        raise MalformedMail("554 5.6.0 Message has no readable content")
    attachments = list(collector.attachments)
    if len(text) > TEXT_LIMIT:
        # The full text is kept as a file; the case text stays within the pipeline's limit.
        full = MailAttachment("邮件正文.txt", "text/plain", text.encode("utf-8"))
        attachments.append(full)
        text = text[: TEXT_LIMIT - 40] + "\n……（邮件正文较长，全文见附件“邮件正文.txt”）"
    if not text:
        text = "来信无正文，内容见附件。"
    return MailContent(text, tuple(attachments))


def _walk(part: Message, depth: int, out: _Collector) -> None:
    out.parts_seen += 1
    if depth > MAX_DEPTH or out.parts_seen > MAX_PARTS:
        raise MalformedMail("554 5.6.0 MIME structure too deep or too large")
    if any(isinstance(d, _STRUCTURE_DEFECTS) for d in part.defects):
        raise MalformedMail("554 5.6.0 Malformed MIME structure")
    content_type = part.get_content_type()
    if content_type == "message/rfc822" and part.is_multipart():
        _walk_forwarded(part, depth, out)
    elif part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if content_type == "multipart/alternative":
            children = [_preferred_alternative(children)] if children else []
        for child in children:
            _walk(child, depth + 1, out)
    else:
        _leaf(part, out)


def _walk_forwarded(part: Message, depth: int, out: _Collector) -> None:
    inner = part.get_payload(0)
    assert isinstance(inner, Message)  # noqa: S101 — message/rfc822 holds one message
    subject = header_text(inner.get("subject"))
    out.texts.append("—— 转发的邮件 ——" + (f"\n主题：{subject}" if subject else ""))
    _walk(inner, depth + 1, out)


def _preferred_alternative(children: list[Message]) -> Message:
    """Plain text when it says something; otherwise the richest version (the last one)."""
    for child in children:
        if child.get_content_type() == "text/plain" and not _is_attachment(child):
            payload = child.get_payload(decode=True)
            if isinstance(payload, bytes) and payload.strip():
                return child
    return children[-1]


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or part.get_filename() is not None


def _leaf(part: Message, out: _Collector) -> None:
    content_type = part.get_content_type()
    if content_type in SIGNATURE_TYPES:
        return
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return
    if content_type in ("text/plain", "text/html") and not _is_attachment(part):
        text = decode_text(payload, part.get_content_charset())
        if content_type == "text/html":
            text = html_to_text(text)
        text = clean_text(text)
        if text:
            out.texts.append(text)
        return
    out.add_attachment(part, payload)


def decode_text(payload: bytes, charset: str | None) -> str:
    """Decode with the declared charset (widened to its superset), else guess UTF-8 / GB18030."""
    declared = (charset or "").strip().lower()
    codec = _CHARSET_ALIASES.get(declared, declared)
    if codec:
        try:
            return payload.decode(codec)
        except (LookupError, UnicodeDecodeError):
            pass
    for guess in ("utf-8", "gb18030"):
        try:
            return payload.decode(guess)
        except UnicodeDecodeError:
            continue
    return payload.decode("utf-8", errors="replace")


def header_text(value: str | None) -> str:
    """An RFC 2047 (or raw 8-bit) header value as clean one-line text."""
    if not value:
        return ""
    pieces: list[str] = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, str):
            # Raw 8-bit header bytes arrive as surrogate escapes; recover them.
            raw = chunk.encode("utf-8", errors="surrogateescape")
            pieces.append(decode_text(raw, None))
        else:
            pieces.append(decode_text(chunk, charset))
    return " ".join(clean_text("".join(pieces)).split())


def clean_text(text: str) -> str:
    """Normalise line ends, drop control and invisible formatting characters, trim blank runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def safe_filename(raw: str | None, content_type: str, number: int) -> str:
    """A display name with no path, no control characters and a bounded length."""
    name = header_text(raw) if raw else ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"附件{number}{extension}"
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension[:16] if dot and len(extension) <= 16 else ""
        name = (stem if dot else name)[: MAX_FILENAME - len(keep) - 1] + (
            "." + keep if keep else ""
        )
    return name
