"""HEIC/HEIF/AVIF metadata stripper: Exif and XMP items are overwritten in place.

These are ISO base media files (ISO/IEC 23008-12). Metadata are *items* like the
picture itself: the ``meta`` box lists them in ``iinf`` (an ``Exif`` item, or a
``mime`` item whose content type is XMP's) and says where their bytes are in ``iloc``.
Overwriting those bytes where they lie keeps every size and offset in the file valid,
so no box has to be rewritten and nothing that draws the picture is touched. The new
bytes are an empty Exif block (a TIFF header with no entries) and an empty XMP
packet, padded with zeros and spaces: plain zeros make libavif refuse the whole
picture ("Invalid Exif payload"), and a photo nobody can open helps nobody.

The whole file is held in memory (the offsets point anywhere in it). A file this
parser does not understand is stored as uploaded and not marked cleaned, as for any
unknown type: the format has many valid variants, and refusing a real photo would
be worse than today's behaviour of keeping it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FTYP = b"ftyp"
HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
)
_XMP_TYPE = b"application/rdf+xml"
_EXIF, _XMP = b"Exif", b"mime"
# Offset 0 to the TIFF header, then a big-endian TIFF header whose first IFD is empty.
_EMPTY_EXIF = bytes(4) + b"MM\x00\x2a" + (8).to_bytes(4, "big") + bytes(2 + 4)
_EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'


class _Malformed(Exception):
    """The file is not the HEIF this parser understands."""


@dataclass(frozen=True)
class _Box:
    kind: bytes
    start: int  # where the payload begins
    end: int


def is_heif(head: bytes) -> bool:
    return head[4:8] == FTYP and head[8:12] in HEIF_BRANDS


def _boxes(data: bytes, start: int, end: int) -> list[_Box]:
    boxes, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                raise _Malformed
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise _Malformed
        boxes.append(_Box(kind, at + header, at + size))
        at += size
    return boxes


def _child(data: bytes, box: _Box, kind: bytes, *, full: bool = False) -> _Box | None:
    start = box.start + (4 if full else 0)  # a full box begins with version and flags
    return next((b for b in _boxes(data, start, box.end) if b.kind == kind), None)


def _cstring(data: bytes, at: int, end: int) -> tuple[bytes, int]:
    stop = data.find(b"\x00", at, end)
    if stop < 0:
        return data[at:end], end
    return data[at:stop], stop + 1


def _metadata_item(data: bytes, infe: _Box) -> tuple[int, bytes] | None:
    """The item id and type when this ``infe`` entry describes Exif or XMP."""
    version = data[infe.start]
    at = infe.start + 4
    if version >= 2:
        wide = version == 3
        item_id = struct.unpack_from(">I" if wide else ">H", data, at)[0]
        at += (4 if wide else 2) + 2  # item id, protection index
        item_type = data[at : at + 4]
        if item_type == _EXIF:
            return int(item_id), _EXIF
        if item_type != _XMP:
            return None
        _, at = _cstring(data, at + 4, infe.end)  # item name
    else:
        item_id = struct.unpack_from(">H", data, at)[0]
        _, at = _cstring(data, at + 4, infe.end)
    content_type, _ = _cstring(data, at, infe.end)
    return (int(item_id), _XMP) if content_type == _XMP_TYPE else None


def _metadata_items(data: bytes, iinf: _Box) -> dict[int, bytes]:
    version = data[iinf.start]
    first = iinf.start + 4 + (2 if version == 0 else 4)  # after the entry count
    items = {}
    for entry in _boxes(data, first, iinf.end):
        if entry.kind == b"infe":
            found = _metadata_item(data, entry)
            if found is not None:
                items[found[0]] = found[1]
    return items


def _read_sized(data: bytes, at: int, size: int) -> int:
    if size not in (0, 4, 8):
        raise _Malformed
    return int.from_bytes(data[at : at + size], "big") if size else 0


def _extents(
    data: bytes, iloc: _Box, wanted: dict[int, bytes], idat: _Box | None
) -> dict[int, list[range]]:
    """The byte ranges of the wanted items; _Malformed when one cannot be located."""
    version = data[iloc.start]
    at = iloc.start + 4
    offset_size, length_size = data[at] >> 4, data[at] & 15
    if length_size == 0:  # lengths left implicit: we cannot tell where an item ends
        raise _Malformed
    base_size, index_size = data[at + 1] >> 4, (data[at + 1] & 15 if version else 0)
    at += 2
    count_fmt = ">H" if version < 2 else ">I"
    (count,) = struct.unpack_from(count_fmt, data, at)
    at += struct.calcsize(count_fmt)
    found: dict[int, list[range]] = {}
    for _ in range(count):
        (item_id,) = struct.unpack_from(count_fmt, data, at)
        at += struct.calcsize(count_fmt)
        method = 0
        if version in (1, 2):
            method = struct.unpack_from(">H", data, at)[0] & 15
            at += 2
        reference = struct.unpack_from(">H", data, at)[0]
        base = _read_sized(data, at + 2, base_size)
        (extent_count,) = struct.unpack_from(">H", data, at + 2 + base_size)
        at += 4 + base_size
        if at > iloc.end:
            raise _Malformed
        for _ in range(extent_count):
            at += index_size
            offset = _read_sized(data, at, offset_size)
            length = _read_sized(data, at + offset_size, length_size)
            at += offset_size + length_size
            if at > iloc.end:
                raise _Malformed
            if item_id in wanted:
                span = _locate(method, reference, base + offset, length, idat, len(data))
                found.setdefault(item_id, []).append(span)
    return found


def _locate(
    method: int, reference: int, offset: int, length: int, idat: _Box | None, size: int
) -> range:
    if reference != 0 or length == 0:  # in another file, or "to the end": not handled
        raise _Malformed
    if method == 0:
        start, end = offset, size
    elif method == 1 and idat is not None:
        start, end = idat.start + offset, idat.end
    else:  # built from other items: its bytes are theirs, nothing of its own to clear
        raise _Malformed
    if start + length > end:
        raise _Malformed
    return range(start, start + length)


def _metadata_ranges(data: bytes) -> list[tuple[bytes, list[range]]]:
    top = _boxes(data, 0, len(data))
    meta = next((b for b in top if b.kind == b"meta"), None)
    if not top or top[0].kind != FTYP or meta is None:
        raise _Malformed
    iinf = _child(data, meta, b"iinf", full=True)
    wanted = {} if iinf is None else _metadata_items(data, iinf)
    if not wanted:
        return []
    iloc = _child(data, meta, b"iloc", full=True)
    if iloc is None:
        raise _Malformed
    located = _extents(data, iloc, wanted, _child(data, meta, b"idat", full=True))
    if located.keys() != wanted.keys():
        raise _Malformed  # listed but not located: it may be somewhere we did not look
    return [(wanted[item], spans) for item, spans in located.items()]


def _blank(kind: bytes, size: int) -> bytes:
    empty, filler = (_EMPTY_EXIF, b"\x00") if kind == _EXIF else (_EMPTY_XMP, b" ")
    if size < len(empty):
        return bytes(size)
    return empty + filler * (size - len(empty))


def clean_heif(data: bytes) -> tuple[bytes, bool]:
    """The file with its Exif and XMP emptied and ``True``, or unchanged and ``False``."""
    try:
        items = _metadata_ranges(data)
    except (_Malformed, struct.error, IndexError):
        return data, False
    cleaned = bytearray(data)
    for kind, spans in items:
        blank = _blank(kind, sum(len(span) for span in spans))
        for span in spans:  # an item's extents are its bytes, in order
            cleaned[span.start : span.stop], blank = blank[: len(span)], blank[len(span) :]
    return bytes(cleaned), True
