"""Streaming metadata strippers for JPEG and PNG: constant memory, any chunk sizes in.

JPEG keeps only what decoding needs: frame, tables, scans, restart markers,
plus APP0 (JFIF), APP2 ``ICC_PROFILE`` (colours) and APP14 ``Adobe`` (colour
transform). Every other APPn (EXIF with GPS and camera serials, XMP, maker notes,
Photoshop IRB, MPF with its secondary images) and every COM is dropped, and so
is anything after EOI (phones append thumbnails and depth maps there).

PNG drops the text chunks (tEXt, iTXt, zTXt), eXIf and tIME, and anything after IEND.
"""

from __future__ import annotations

from intake.sanitise.errors import UnreadableAttachment

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_APP0, _APP2, _APP14, _COM, _SOS, _EOI = 0xE0, 0xE2, 0xEE, 0xFE, 0xDA, 0xD9
_KEPT_APPS = {_APP0: (b"JFIF\x00", b"JFXX\x00"), _APP2: (b"ICC_PROFILE\x00",), _APP14: (b"Adobe",)}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7
_SNIFF = 12  # enough of an APPn payload to recognise the kept ones


def _keep_segment(marker: int, payload_start: bytes) -> bool:
    if marker == _COM or 0xE0 <= marker <= 0xEF:
        return any(payload_start.startswith(p) for p in _KEPT_APPS.get(marker, ()))
    return True


class _SegmentFilter:
    """Shared machinery of the two image cleaners: bytes arrive in any chunking; whole
    segments (JPEG) or chunks (PNG) are either copied through or skipped as they stream."""

    sanitised = True

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = "start"
        self._copy = 0  # bytes of the current segment still to pass through
        self._skip = 0  # bytes of the current segment still to drop

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        out = bytearray()
        while self._step(out):
            pass
        return bytes(out)

    def _step(self, out: bytearray) -> bool:
        raise NotImplementedError

    def _pass_segment(self, out: bytearray) -> bool:
        """Copy or drop what is left of the current segment; False when waiting for bytes."""
        n = min(len(self._buf), self._copy or self._skip)
        if self._copy:
            out += self._buf[:n]
            self._copy -= n
        else:
            self._skip -= n
        del self._buf[:n]
        return bool(n)


class JpegCleaner(_SegmentFilter):
    def finish(self) -> bytes:
        out = bytearray()
        while self._step(out):
            pass
        if self._state == "entropy":  # a cut-off scan still shows what it has; keep it
            out += self._buf
            self._buf.clear()
        elif self._state != "done" or self._copy or self._skip:
            raise UnreadableAttachment
        return bytes(out)

    def _step(self, out: bytearray) -> bool:
        if self._copy or self._skip:
            return self._pass_segment(out)
        buf = self._buf
        if self._state == "start":
            if len(buf) < 2:
                return False
            if buf[:2] != b"\xff\xd8":
                raise UnreadableAttachment
            out += buf[:2]
            del buf[:2]
            self._state = "segments"
            return True
        if self._state == "segments":
            return self._segment(out)
        if self._state == "entropy":
            return self._entropy(out)
        buf.clear()  # after EOI: trailers are dropped
        return False

    def _segment(self, out: bytearray) -> bool:
        buf = self._buf
        if len(buf) < 2:
            return False
        if buf[0] != 0xFF:
            raise UnreadableAttachment
        marker = buf[1]
        if marker == 0xFF:  # fill byte before a marker
            del buf[:1]
            return True
        if marker in _STANDALONE or marker == _EOI:
            out += buf[:2]
            del buf[:2]
            if marker == _EOI:
                self._state = "done"
            return True
        if len(buf) < 4:
            return False
        length = int.from_bytes(buf[2:4], "big")
        if length < 2:
            raise UnreadableAttachment
        if len(buf) < min(4 + _SNIFF, 2 + length):
            return False
        if _keep_segment(marker, bytes(buf[4 : 4 + _SNIFF])):
            self._copy = 2 + length
        else:
            self._skip = 2 + length
        if marker == _SOS:
            self._state = "entropy"
        return True

    def _entropy(self, out: bytearray) -> bool:
        buf = self._buf
        at = buf.find(b"\xff")
        if at < 0:
            out += buf
            buf.clear()
            return False
        out += buf[:at]
        del buf[:at]
        if len(buf) < 2:
            return False
        follower = buf[1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7:  # stuffed byte, restart marker
            out += buf[:2]
            del buf[:2]
        elif follower == 0xFF:
            del buf[:1]
        else:
            self._state = "segments"
        return True


_DROPPED_PNG = {b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"}


class PngCleaner(_SegmentFilter):
    def finish(self) -> bytes:
        out = bytearray()
        while self._step(out):
            pass
        if self._state != "done":
            raise UnreadableAttachment
        return bytes(out)

    def _step(self, out: bytearray) -> bool:
        if self._copy or self._skip:
            return self._pass_segment(out)
        buf = self._buf
        if self._state == "done":
            buf.clear()
            return False
        if self._state == "start":
            if len(buf) < len(PNG_MAGIC):
                return False
            if bytes(buf[:8]) != PNG_MAGIC:
                raise UnreadableAttachment
            out += buf[:8]
            del buf[:8]
            self._state = "chunks"
            return True
        if len(buf) < 8:
            return False
        length = int.from_bytes(buf[:4], "big")
        kind = bytes(buf[4:8])
        if length > 0x7FFFFFFF:
            raise UnreadableAttachment
        total = 12 + length  # length, type, data, CRC
        if kind in _DROPPED_PNG:
            self._skip = total
        else:
            self._copy = total
        if kind == b"IEND":
            self._state = "done"
        return True
