"""Metadata strippers for PDF and Office Open XML (docx, xlsx, pptx), in memory.

Both formats need the whole file (a PDF's cross-reference table is at its end,
a zip's directory too), so they are buffered in memory — never on disk — and
cleaned in a worker thread once the upload is complete.

PDF: the Info dictionary (author, creator tool, dates), the XMP metadata stream,
page-level metadata and PieceInfo, and the file identifier (it stays the same
across edits and would link this copy to the author's original) are removed;
the file is rewritten, so earlier incremental revisions are gone too.

OOXML: docProps/core.xml, app.xml and custom.xml (author, last editor, company,
manager, revision count, edit time, template) are replaced by empty ones; Word's
revision authors, dates and rsid session ids (which tie documents to one
editing session), Excel comment authors and PowerPoint comment authors are
blanked; zip timestamps are reset to 1980-01-01.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile

import pikepdf

from intake.sanitise.errors import UnreadableAttachment

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
MAX_UNZIPPED = 1024 * 1024 * 1024  # a zip bomb stops here instead of filling memory
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

_EMPTY_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    b'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_EMPTY_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'extended-properties"/>'
)
_EMPTY_CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties"/>'
)
_REPLACED = {
    "docProps/core.xml": _EMPTY_CORE,
    "docProps/app.xml": _EMPTY_APP,
    "docProps/custom.xml": _EMPTY_CUSTOM,
}

_WORD_PEOPLE = re.compile(rb'\b((?:w|w15):(?:author|initials|userId|providerId))="[^"]*"')
_PERSON_ATTRS = re.compile(rb'(?<![:\w])(displayName|userId|providerId|initials|name)="[^"]*"')
_DROP_ATTRS = re.compile(rb'\s(?:w:rsid\w*|w:date|w16du:dateUtc)="[^"]*"')
_RSIDS = re.compile(rb"<w:rsids>.*?</w:rsids>", re.DOTALL)
_XL_AUTHOR = re.compile(rb"<author>[^<]*</author>")


def clean_pdf(data: bytes) -> bytes:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for key in ("/Info", "/ID"):
                if key in pdf.trailer:
                    del pdf.trailer[key]
            for holder in (pdf.Root, *(page.obj for page in pdf.pages)):
                for key in ("/Metadata", "/PieceInfo"):
                    if key in holder:
                        del holder[key]
            out = io.BytesIO()
            pdf.save(out)
            return out.getvalue()
    except pikepdf.PdfError:  # includes PasswordError: an encrypted PDF cannot be cleaned
        raise UnreadableAttachment from None


def is_ooxml(archive: zipfile.ZipFile) -> bool:
    return "[Content_Types].xml" in archive.namelist()


def _scrub_part(name: str, content: bytes) -> bytes:
    if name in _REPLACED:
        return _REPLACED[name]
    if name.startswith("word/") and name.endswith(".xml"):
        content = _DROP_ATTRS.sub(b"", _RSIDS.sub(b"", content))
        content = _WORD_PEOPLE.sub(rb'\1=""', content)
    elif name.startswith("xl/comments") or name.startswith("xl/threadedComments"):
        content = _XL_AUTHOR.sub(b"<author></author>", content)
    elif name.startswith("xl/persons/") or name == "ppt/commentAuthors.xml":
        content = _PERSON_ATTRS.sub(rb'\1=""', content)
    return content


def _is_scrubbed(name: str) -> bool:
    return (
        name in _REPLACED
        or (name.startswith(("word/", "xl/comments", "xl/threadedComments", "xl/persons/")))
        or name == "ppt/commentAuthors.xml"
    ) and name.endswith(".xml")


def clean_zip(data: bytes) -> tuple[bytes, bool]:
    """An OOXML file with its metadata scrubbed, or any other zip unchanged (and ``False``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            if not is_ooxml(source):
                return data, False
            if sum(info.file_size for info in source.infolist()) > MAX_UNZIPPED:
                raise UnreadableAttachment
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
                for info in source.infolist():
                    fresh = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
                    fresh.compress_type = zipfile.ZIP_DEFLATED
                    if _is_scrubbed(info.filename):
                        target.writestr(fresh, _scrub_part(info.filename, source.read(info)))
                        continue
                    with source.open(info) as src, target.open(fresh, "w") as dst:
                        shutil.copyfileobj(src, dst, 1024 * 1024)
            return out.getvalue(), True
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError):
        raise UnreadableAttachment from None
