"""MIME → report text and files: charsets, encodings, structure, and what is never kept."""

from __future__ import annotations

import base64
import quopri

import pytest

from intake.html_text import html_to_text
from intake.mime import TEXT_LIMIT, MalformedMail, read_mail

LIMITS = {"max_attachments": 5, "max_attachment_bytes": 1024 * 1024}
TEXT = "青山镇副镇长刘某某在征地补偿中克扣村民补偿款。"


def mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


@pytest.mark.parametrize(
    ("label", "codec", "text"),
    [
        ("GB2312", "gb2312", TEXT),
        ("GB2312", "gbk", TEXT + "朱镕某"),  # mislabelled GBK: 镕 is not in GB2312
        ("GBK", "gbk", TEXT + "朱镕某"),
        ("GB18030", "gb18030", TEXT + "㐀"),  # CJK extension A exists only in GB18030
        ("Big5", "big5", "青山鎮副鎮長劉某某在徵地補償中剋扣村民補償款。"),
        ("utf-8", "utf-8", TEXT),
    ],
)
def test_charsets_with_base64_and_quoted_printable(label: str, codec: str, text: str) -> None:
    raw = text.encode(codec)
    for encoding, body in (
        ("base64", base64.encodebytes(raw)),
        ("quoted-printable", quopri.encodestring(raw)),
    ):
        content = read_mail(
            mail(
                f"Subject: x\nContent-Type: text/plain; charset={label}\n"
                f"Content-Transfer-Encoding: {encoding}\n",
                body,
            ),
            **LIMITS,
        )
        assert text in content.text


def test_encoded_subject_and_gb2312_filename_are_decoded() -> None:
    subject = "=?GB2312?B?" + base64.b64encode("关于刘某某".encode("gb2312")).decode() + "?="
    filename = "=?GBK?B?" + base64.b64encode("补偿名单.xlsx".encode("gbk")).decode() + "?="
    raw = mail(
        f'Subject: {subject}\nContent-Type: multipart/mixed; boundary="b1"\n',
        (
            f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b1--\r\n"
        ).encode(),
    )
    content = read_mail(raw, **LIMITS)
    assert content.text.startswith("主题：关于刘某某\n\n")
    [attachment] = content.attachments
    assert attachment.filename == "补偿名单.xlsx"
    assert attachment.data == b"\x00\x01\x02"


def test_nested_alternative_prefers_plain_and_signatures_are_dropped() -> None:
    raw = mail(
        "Subject: x\nContent-Type: multipart/signed; boundary=s;"
        ' protocol="application/pgp-signature"\n',
        (
            '--s\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
            f"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
            "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML VERSION</p>\r\n--a--\r\n"
            "--s\r\nContent-Type: application/pgp-signature\r\n\r\n"
            "-----BEGIN PGP SIGNATURE-----\r\nkey id of the sender\r\n--s--\r\n"
        ).encode(),
    )
    content = read_mail(raw, **LIMITS)
    assert TEXT in content.text
    assert "HTML VERSION" not in content.text
    assert content.attachments == ()


def test_long_text_is_kept_whole_as_a_file() -> None:
    long_text = TEXT * 1000
    raw = mail("Subject: x\nContent-Type: text/plain; charset=utf-8\n", long_text.encode())
    content = read_mail(raw, **LIMITS)
    assert len(content.text) <= TEXT_LIMIT
    assert content.text.endswith("全文见附件“邮件正文.txt”）")
    [full] = content.attachments
    assert long_text in full.data.decode("utf-8")


def test_attachment_only_mail_gets_a_placeholder_text() -> None:
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b"\n',
        b"--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment\r\n\r\n"
        b"PNGDATA\r\n--b--\r\n",
    )
    content = read_mail(raw, **LIMITS)
    assert content.text == "来信无正文，内容见附件。"
    assert content.attachments[0].filename == "附件1.png"


@pytest.mark.parametrize(
    ("raw", "reply"),
    [
        (b"", "554 5.6.0 Empty message"),
        (
            mail("Subject: x\nContent-Type: multipart/mixed\n", b"no boundary\r\n"),
            "554 5.6.0 Malformed MIME structure",
        ),
        (mail("Subject: \n", b"   \r\n"), "554 5.6.0 Message has no readable content"),
    ],
)
def test_malformed_mail_names_the_problem(raw: bytes, reply: str) -> None:
    with pytest.raises(MalformedMail) as refused:
        read_mail(raw, **LIMITS)
    assert refused.value.smtp_reply == reply


def test_too_many_attachments_and_too_deep_nesting_are_refused() -> None:
    parts = "".join(
        "--b\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Disposition: attachment\r\n\r\nX{i}\r\n"
        for i in range(6)
    )
    raw = mail('Content-Type: multipart/mixed; boundary="b"\n', (parts + "--b--\r\n").encode())
    with pytest.raises(MalformedMail) as too_many:
        read_mail(raw, **LIMITS)
    assert too_many.value.smtp_reply.startswith("552 5.3.4")
    body = "".join(
        f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n' for i in range(20)
    )
    raw = mail('Content-Type: multipart/mixed; boundary="b0"\n', body.encode())
    with pytest.raises(MalformedMail):
        read_mail(raw, **LIMITS)


def test_bidi_overrides_and_control_characters_are_removed() -> None:
    raw = mail(
        "Subject: x\nContent-Type: text/plain; charset=utf-8\n",
        "收款\u202e00001\u202c元\x07".encode(),
    )
    assert read_mail(raw, **LIMITS).text.endswith("收款00001元")


def test_html_to_text_keeps_words_and_links_drops_markup() -> None:
    html = (
        "<html><head><title>T</title></head><body><h1>标题</h1><p>第一段&nbsp;&amp;内容</p>"
        '<table><tr><td>姓名</td><td>刘某</td></tr></table><a href="javascript:alert(1)">点我</a>'
        "<script>var secret = 1;</script></body></html>"
    )
    text = html_to_text(html)
    assert text.splitlines()[0] == "标题"
    assert "第一段 &内容" in text
    assert "姓名 刘某" in text
    assert "点我" in text
    for gone in ("javascript", "secret", "<", "T\n"):
        assert gone not in text
