"""Legacy Office metadata stripper: OLE2 compound files (.doc, .xls, .ppt; WPS .wps, .et, .dps).

Author, last editor, company, manager, template, title, revision count, edit time,
creation and save dates and the custom properties live in two property-set streams,
``\\x05SummaryInformation`` and ``\\x05DocumentSummaryInformation``, at the top of
the file and again inside every embedded object. Each is overwritten in place (same
size, through olefile, in memory) with a valid property set that holds only its code
page, padded with zeros, so no stream moves and the rest of the file is untouched.

Not cleaned, because it lives inside the application's own binary streams: Word's
list of the last ten authors and save paths (SttbSavedBy), revision-mark and comment
author names, text kept by "fast save", and leftovers in unused sectors. The
operator docs say so.
"""

from __future__ import annotations

import io
import struct
import uuid

import olefile  # type: ignore[import-untyped]

from intake.sanitise.errors import UnreadableAttachment

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PROPERTY_SETS = {
    "\x05SummaryInformation": uuid.UUID("f29f85e0-4ff9-1068-ab91-08002b27b3d9").bytes_le,
    "\x05DocumentSummaryInformation": uuid.UUID("d5cdd502-2e9c-101b-9397-08002b2cf9ae").bytes_le,
}
_BYTE_ORDER, _WINDOWS = 0xFFFE, 0x00020006  # the OS field says only "Windows"
_PID_CODEPAGE, _VT_I2 = 1, 0x0002
_UNICODE = 1200


def original_codepage(stream: bytes) -> int:
    """The code page the property set declared (readers expect one), else UTF-16's."""
    try:
        (section,) = struct.unpack_from("<I", stream, 44)
        (count,) = struct.unpack_from("<I", stream, section + 4)
        for i in range(min(count, 1024)):
            pid, offset = struct.unpack_from("<II", stream, section + 8 + 8 * i)
            if pid == _PID_CODEPAGE:
                kind, value = struct.unpack_from("<HxxH", stream, section + offset)
                return int(value) if kind == _VT_I2 else _UNICODE
    except struct.error:
        pass
    return _UNICODE


def empty_property_set(fmtid: bytes, codepage: int, size: int) -> bytes:
    """A property set with one section holding only the code page, zero-padded to ``size``."""
    header = struct.pack("<HHI16sI", _BYTE_ORDER, 0, _WINDOWS, bytes(16), 1) + fmtid
    header += struct.pack("<I", len(header) + 4)  # the section follows the header
    section = struct.pack("<IIIIHHHH", 24, 1, _PID_CODEPAGE, 16, _VT_I2, 0, codepage, 0)
    blob = header + section
    if len(blob) > size:  # too small to have held a property set: zeros say nothing
        return bytes(size)
    return blob + bytes(size - len(blob))


def _blank_property_sets(ole: olefile.OleFileIO) -> None:
    for path in ole.listdir(streams=True, storages=False):
        fmtid = _PROPERTY_SETS.get(path[-1])
        if fmtid is None:
            continue
        size = ole.get_size(path)
        codepage = original_codepage(ole.openstream(path).read())
        ole.write_stream(path, empty_property_set(fmtid, codepage, size))


def clean_ole(data: bytes) -> bytes:
    buffer = io.BytesIO(data)
    try:
        # A structure olefile can only half read could hide a property-set stream
        # from us, and the file would then be called clean: refuse it instead.
        ole = olefile.OleFileIO(buffer, write_mode=True, raise_defects=olefile.DEFECT_INCORRECT)
        try:
            _blank_property_sets(ole)
        finally:
            ole.close()
    # olefile reports hostile input through a wide, undocumented range of errors
    # (OSError, ValueError, IndexError, struct.error, even AssertionError); any of
    # them means this file cannot be cleaned, and the reporter is told so.
    except Exception:
        raise UnreadableAttachment from None
    return buffer.getvalue()
