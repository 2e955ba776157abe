"""WebP metadata stripper: keeps only the chunks that draw the picture.

A WebP file is ``RIFF <size> WEBP`` followed by chunks. Kept: ``VP8X`` (with its
EXIF and XMP flags cleared), ``ICCP`` (colours, as for JPEG), ``ANIM``/``ANMF``
(animation), ``ALPH``, ``VP8 `` and ``VP8L`` (the image). Dropped: ``EXIF`` (GPS,
camera, time), ``XMP `` and any chunk the format does not define — an unknown chunk is
ignored by decoders, so it can only carry data someone wanted to hide. Anything after
the length the RIFF header declares is dropped too.

Why the whole file is held in memory rather than streamed like JPEG and PNG: the RIFF
size sits in the header, before every chunk, and EXIF and XMP come last (the format
puts them after the image data). The corrected size is only known once the last
chunk has been seen, so no byte can be sent on before then — streaming would buffer
the whole file anyway, just less plainly. WebP photos are a few megabytes; like PDF and
Office files they are bounded by the attachment size limit and never touch the disk.
"""

from __future__ import annotations

import struct

from intake.sanitise.errors import UnreadableAttachment

RIFF_MAGIC = b"RIFF"
WEBP_FORM = b"WEBP"
_KEPT = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def is_webp(head: bytes) -> bool:
    return head[:4] == RIFF_MAGIC and head[8:12] == WEBP_FORM


def _kept_chunk(kind: bytes, chunk: bytes) -> bytes:
    if kind == b"VP8X" and len(chunk) > 8:
        flags = chunk[8] & ~(_VP8X_EXIF | _VP8X_XMP)
        return chunk[:8] + bytes([flags]) + chunk[9:]
    return chunk


def clean_webp(data: bytes) -> bytes:
    if len(data) < 12 or not is_webp(data):
        raise UnreadableAttachment
    end = 8 + struct.unpack_from("<I", data, 4)[0]
    if end > len(data):  # cut short: the image cannot be checked to its end
        raise UnreadableAttachment
    kept = [WEBP_FORM]
    at = 12
    while at < end:
        if at + 8 > end:
            raise UnreadableAttachment
        kind = data[at : at + 4]
        size = struct.unpack_from("<I", data, at + 4)[0]
        stop = at + 8 + size + (size & 1)  # chunks are padded to an even length
        if stop > end:
            raise UnreadableAttachment
        if kind in _KEPT:
            kept.append(_kept_chunk(kind, data[at:stop]))
        at = stop
    if len(kept) == 1:  # nothing that draws a picture
        raise UnreadableAttachment
    body = b"".join(kept)
    return RIFF_MAGIC + struct.pack("<I", len(body)) + body
