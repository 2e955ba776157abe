"""Attachment sanitising: pick a cleaner from the file's first bytes, never its name.

JPEG, PNG and GIF are cleaned while they stream; PDF, Office (OOXML and legacy
OLE2), WebP and HEIC/HEIF/AVIF files are buffered in memory and cleaned at the
end (`finish`, which callers run in a thread). Anything else is kept as uploaded,
and so is a HEIF file the parser does not understand — the report form says which
types are cleaned. With ``keep_original`` (保留原件作为证据) nothing is changed,
because a handler may need to show that a photo or document is unaltered.

Executables and scripts are refused outright (by content and by name): nobody
should be asked to open one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from intake.sanitise.documents import PDF_MAGIC, ZIP_MAGIC, clean_pdf, clean_zip
from intake.sanitise.errors import AttachmentTooLarge, RefusedAttachment, UnreadableAttachment
from intake.sanitise.gif import GIF_MAGICS, GifCleaner
from intake.sanitise.heif import clean_heif, is_heif
from intake.sanitise.images import JPEG_MAGIC, PNG_MAGIC, JpegCleaner, PngCleaner
from intake.sanitise.ole import OLE_MAGIC, clean_ole
from intake.sanitise.webp import clean_webp, is_webp

__all__ = [
    "AttachmentTooLarge",
    "Cleaner",
    "RefusedAttachment",
    "SniffingCleaner",
    "UnreadableAttachment",
]

SNIFF_BYTES = 12  # a WebP's form type and an ISO media file's brand end at byte 12
_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xcf\xfa\xed\xfe",
)
_REFUSED_SUFFIXES = frozenset(
    {
        ".exe",
        ".dll",
        ".scr",
        ".com",
        ".bat",
        ".cmd",
        ".msi",
        ".msp",
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".wsf",
        ".wsh",
        ".ps1",
        ".psm1",
        ".hta",
        ".cpl",
        ".lnk",
        ".jar",
        ".sh",
        ".elf",
        ".app",
        ".dmg",
        ".apk",
        ".reg",
    }
)


class Cleaner(Protocol):
    @property
    def sanitised(self) -> bool: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class Passthrough:
    sanitised = False

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


Clean = Callable[[bytes], tuple[bytes, bool]]  # the cleaned file, and whether it was cleaned


def _always(clean: Callable[[bytes], bytes]) -> Clean:
    return lambda data: (clean(data), True)


class WholeFile:
    """Buffers a file in memory (never on disk) and cleans it at the end."""

    def __init__(self, clean: Clean) -> None:
        self._clean = clean
        self.sanitised = True
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        return b""

    def finish(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        cleaned, self.sanitised = self._clean(data)
        return cleaned


def refuse_by_name(filename: str) -> None:
    dot = filename.rfind(".")
    if dot >= 0 and filename[dot:].lower().strip() in _REFUSED_SUFFIXES:
        raise RefusedAttachment


def _cleaner_for(head: bytes) -> Cleaner:
    if head.startswith(_EXECUTABLE_MAGIC) or head.startswith(b"#!"):
        raise RefusedAttachment
    if head.startswith(JPEG_MAGIC):
        return JpegCleaner()
    if head.startswith(PNG_MAGIC):
        return PngCleaner()
    if head.startswith(GIF_MAGICS):
        return GifCleaner()
    if head.startswith(PDF_MAGIC):
        return WholeFile(_always(clean_pdf))
    if head.startswith(ZIP_MAGIC):
        return WholeFile(clean_zip)
    if head.startswith(OLE_MAGIC):
        return WholeFile(_always(clean_ole))
    if is_webp(head):
        return WholeFile(_always(clean_webp))
    if is_heif(head):
        return WholeFile(clean_heif)
    return Passthrough()


class SniffingCleaner:
    """Holds back the first bytes until it knows what the file is, then delegates."""

    def __init__(self, filename: str, *, keep_original: bool) -> None:
        refuse_by_name(filename)
        self.keep_original = keep_original
        self._head = bytearray()
        self._inner: Cleaner | None = None

    @property
    def sanitised(self) -> bool:
        return self._inner is not None and self._inner.sanitised

    def _choose(self) -> Cleaner:
        inner = _cleaner_for(bytes(self._head))
        return Passthrough() if self.keep_original else inner

    def feed(self, chunk: bytes) -> bytes:
        if self._inner is not None:
            return self._inner.feed(chunk)
        self._head += chunk
        if len(self._head) < SNIFF_BYTES:
            return b""
        self._inner = self._choose()
        head, self._head = bytes(self._head), bytearray()
        return self._inner.feed(head)

    def finish(self) -> bytes:
        if self._inner is None:
            self._inner = self._choose()
            head = self._inner.feed(bytes(self._head))
        else:
            head = b""
        return head + self._inner.finish()
