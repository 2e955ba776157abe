"""Streaming GIF metadata stripper: constant memory, any chunk sizes in.

A GIF is a header, colour tables, then blocks, each followed by length-prefixed
sub-blocks. Kept: image descriptors and their data, graphic control extensions
(frame timing, transparency), plain text extensions (drawn as part of the picture)
and the two application extensions that only say how an animation loops
(``NETSCAPE2.0``, ``ANIMEXTS1.0``). Dropped: comment extensions, every other
application extension — XMP travels in an ``XMP DataXMP`` one, editors put their
names and settings in others — extensions no decoder knows, and anything after the
trailer.
"""

from __future__ import annotations

from intake.sanitise.errors import UnreadableAttachment
from intake.sanitise.images import _SegmentFilter

GIF_MAGICS = (b"GIF87a", b"GIF89a")

_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B
_GRAPHIC_CONTROL, _PLAIN_TEXT, _APPLICATION = 0xF9, 0x01, 0xFF
_LOOPING_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _colour_table(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


class GifCleaner(_SegmentFilter):
    def __init__(self) -> None:
        super().__init__()
        self._dropping = False  # whether the sub-blocks being read are dropped

    def finish(self) -> bytes:
        out = bytearray()
        while self._step(out):
            pass
        if self._state == "blocks" and not (self._buf or self._copy or self._skip):
            out += bytes([_TRAILER])  # some encoders leave the trailer out; nothing is lost
        elif self._state != "done":
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
            if len(buf) < 13:
                return False
            if bytes(buf[:6]) not in GIF_MAGICS:
                raise UnreadableAttachment
            self._copy = 13 + _colour_table(buf[10])
            self._state = "blocks"
            return True
        if self._state == "subblocks":
            return self._sub_block()
        return self._block(out)

    def _block(self, out: bytearray) -> bool:
        buf = self._buf
        if not buf:
            return False
        if buf[0] == _TRAILER:
            out += buf[:1]
            del buf[:1]
            self._state = "done"
            return True
        if buf[0] == _IMAGE:
            if len(buf) < 10:
                return False
            self._copy = 10 + _colour_table(buf[9]) + 1  # descriptor, table, LZW code size
            self._dropping = False
            self._state = "subblocks"
            return True
        if buf[0] != _EXTENSION:
            raise UnreadableAttachment
        return self._extension()

    def _extension(self) -> bool:
        buf = self._buf
        if len(buf) < 3:
            return False
        label = buf[1]
        if label == _APPLICATION:
            end = 3 + buf[2]  # the identifier is the first sub-block: decide on it
            if len(buf) < end:
                return False
            keep = bytes(buf[3:end]) in _LOOPING_APPS
        else:
            keep = label in (_GRAPHIC_CONTROL, _PLAIN_TEXT)
        self._dropping = not keep
        if keep:
            self._copy = 2  # introducer and label; the sub-blocks follow
        else:
            self._skip = 2
        self._state = "subblocks"
        return True

    def _sub_block(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        size = 1 + buf[0]
        if buf[0] == 0:  # the block terminator
            self._state = "blocks"
        if self._dropping:
            self._skip = size
        else:
            self._copy = size
        return True
