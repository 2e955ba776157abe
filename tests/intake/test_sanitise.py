"""Metadata stripping: what a photo or document says about its author is gone, the content stays.

Files are built here with Pillow, pikepdf and zipfile, carrying canaries in every place that
leaks (EXIF and GPS, XMP, comments, PNG text chunks, PDF Info and XMP, Office properties and
revision authors); each cleaner must remove every canary and leave a file that still opens.
"""

from __future__ import annotations

import contextlib
import io
import random
import struct
import zipfile
import zlib

import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from intake.sanitise import RefusedAttachment, SniffingCleaner, UnreadableAttachment
from intake.uploads import clean_filename

CANARY = b"Canary7f3a"


def _run(data: bytes, *, name: str = "file", keep: bool = False, chunk: int = 0) -> bytes:
    cleaner = SniffingCleaner(name, keep_original=keep)
    out = bytearray()
    if chunk:
        for i in range(0, len(data), chunk):
            out += cleaner.feed(data[i : i + chunk])
    else:
        out += cleaner.feed(data)
    return bytes(out + cleaner.finish())


def jpeg_with_metadata() -> bytes:
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = image.getexif()
    exif[0x010F] = CANARY.decode() + "Make"
    exif[0x0110] = CANARY.decode() + "Model"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 5.0)
    buffer = io.BytesIO()
    image.save(
        buffer,
        "JPEG",
        exif=exif,
        comment=CANARY + b"comment",
        xmp=b"<x:xmpmeta>" + CANARY + b"xmp</x:xmpmeta>",
        icc_profile=b"\x00" * 128 + b"ICCBODY",
    )
    return buffer.getvalue() + b"\xff\xd8trailer" + CANARY  # phones append data after EOI


def test_jpeg_loses_exif_gps_xmp_comments_and_trailers() -> None:
    original = jpeg_with_metadata()
    assert CANARY in original
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    cleaned = _run(original)
    assert CANARY not in cleaned
    image = Image.open(io.BytesIO(cleaned))
    image.load()
    assert image.size == (32, 24)
    assert dict(image.getexif()) == {}
    assert b"ICCBODY" in cleaned  # colour profile kept
    assert image.getpixel((5, 5))[0] > 150  # still the red picture


def test_jpeg_cleaning_does_not_depend_on_chunk_boundaries() -> None:
    original = jpeg_with_metadata()
    whole = _run(original)
    assert _run(original, chunk=1) == whole
    rng = random.Random(7)
    cleaner = SniffingCleaner("x.jpg", keep_original=False)
    out, at = bytearray(), 0
    while at < len(original):
        step = rng.randint(1, 300)
        out += cleaner.feed(original[at : at + step])
        at += step
    assert bytes(out + cleaner.finish()) == whole


def test_progressive_jpeg_survives() -> None:
    image = Image.effect_noise((64, 64), 40).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", progressive=True, comment=CANARY)
    cleaned = _run(buffer.getvalue(), chunk=7)
    assert CANARY not in cleaned
    Image.open(io.BytesIO(cleaned)).load()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_png_loses_text_exif_and_time_chunks() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", CANARY.decode() + "text")
    info.add_text("Comment", CANARY.decode() * 20, zip=True)  # zTXt
    info.add_itxt("Description", CANARY.decode() + "itxt", lang="zh")
    image = Image.new("RGB", (8, 8), (0, 128, 0))
    exif = image.getexif()
    exif[0x010F] = CANARY.decode()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, exif=exif)
    data = buffer.getvalue()
    timed = data[:33] + _png_chunk(b"tIME", b"\x07\xea\x0b\x1c\x0a\x00\x00") + data[33:]
    original = timed + b"after IEND " + CANARY
    assert original.count(CANARY) >= 4
    cleaned = _run(original, chunk=5)
    assert CANARY not in cleaned
    assert b"tIME" not in cleaned
    assert b"zTXt" not in cleaned
    assert b"eXIf" not in cleaned
    reopened = Image.open(io.BytesIO(cleaned))
    reopened.load()
    assert reopened.getpixel((1, 1)) == (0, 128, 0)


def test_pdf_loses_info_xmp_and_identifier() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = CANARY.decode() + "author"
    pdf.docinfo["/Producer"] = CANARY.decode() + "producer"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [CANARY.decode() + "xmp"]
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)
    original = buffer.getvalue()
    original_id = pikepdf.open(io.BytesIO(original)).trailer.ID[0]
    assert CANARY in original
    cleaned = _run(original, chunk=1000)
    assert CANARY not in cleaned
    with pikepdf.open(io.BytesIO(cleaned)) as reopened:
        assert len(reopened.pages) == 1
        assert "/Author" not in reopened.docinfo
        assert "/Metadata" not in reopened.Root
        assert reopened.trailer.ID[0] != original_id


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr(
            "docProps/core.xml",
            f"<cp:coreProperties><dc:creator>{CANARY.decode()}</dc:creator>"
            f"<cp:lastModifiedBy>{CANARY.decode()}</cp:lastModifiedBy></cp:coreProperties>",
        )
        archive.writestr(
            "docProps/app.xml", f"<Properties><Company>{CANARY.decode()}</Company></Properties>"
        )
        archive.writestr(
            "word/document.xml",
            '<w:document><w:body><w:p w:rsidR="00AB12CD"><w:ins w:id="1" w:author="'
            + CANARY.decode()
            + '" w:date="2026-01-02T03:04:05Z"><w:r><w:t>账目表在附件里</w:t></w:r></w:ins>'
            '<w:bookmarkStart w:name="keepme"/></w:p></w:body></w:document>',
        )
        archive.writestr(
            "word/settings.xml",
            '<w:settings><w:rsids><w:rsidRoot w:val="00AB12CD"/></w:rsids></w:settings>',
        )
        archive.writestr(
            "word/people.xml",
            f'<w15:people><w15:person w15:author="{CANARY.decode()}">'
            f'<w15:presenceInfo w15:providerId="AD" w15:userId="{CANARY.decode()}@x"/>'
            "</w15:person></w15:people>",
        )
    return buffer.getvalue()


def test_docx_loses_author_company_and_revision_data() -> None:
    cleaned = _run(_docx(), name="账目.docx")
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    assert not [name for name, data in contents.items() if CANARY in data]
    document = contents["word/document.xml"].decode()
    assert "账目表在附件里" in document
    assert 'w:name="keepme"' in document
    assert "rsid" not in document
    assert "w:date" not in document
    assert b"00AB12CD" not in contents["word/settings.xml"]


def test_plain_zip_and_unknown_types_are_kept_as_uploaded() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("录音.txt", "plain")
    assert _run(buffer.getvalue()) == buffer.getvalue()
    text = "文本证据".encode() * 100
    assert _run(text, chunk=3) == text
    assert _run(b"") == b""


def test_keep_original_changes_nothing() -> None:
    original = jpeg_with_metadata()
    assert _run(original, keep=True, chunk=100) == original


@pytest.mark.parametrize(
    "data", [b"\xff\xd8\xff\xe1\x00\x10Exif", b"\x89PNG\r\n\x1a\n\x00\x00", b"%PDF-1.7 nonsense"]
)
def test_damaged_files_that_claim_a_cleaned_type_are_refused(data: bytes) -> None:
    with pytest.raises(UnreadableAttachment) as caught:
        _run(data)
    assert caught.value.status == 422


def test_executables_are_refused_by_content_and_by_name() -> None:
    with pytest.raises(RefusedAttachment):
        _run(b"MZ\x90\x00" + b"\x00" * 100, name="photo.jpg")
    with pytest.raises(RefusedAttachment):
        _run(b"#!/bin/sh\nrm -rf /\n", name="notes.txt")
    with pytest.raises(RefusedAttachment):
        SniffingCleaner("证据.EXE", keep_original=True)


_SEEDS = [jpeg_with_metadata()]


@settings(max_examples=150, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=2000),
    garbage=st.binary(min_size=1, max_size=8),
    cut=st.integers(min_value=0, max_value=3000),
    chunk=st.integers(min_value=1, max_value=97),
    kind=st.sampled_from(["jpeg", "png"]),
)
def test_damaged_images_end_in_a_clean_refusal_or_a_file_never_a_crash(
    position: int, garbage: bytes, cut: int, chunk: int, kind: str
) -> None:
    if kind == "jpeg":
        original = _SEEDS[0]
    else:
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buffer, "PNG")
        original = buffer.getvalue()
    damaged = original[:position] + garbage + original[position + len(garbage) :]
    damaged = damaged[: max(cut, 9)]
    # Whatever the damage: a file out, or the reporter told it cannot be read. Nothing else.
    with contextlib.suppress(UnreadableAttachment, RefusedAttachment):
        _run(damaged, chunk=chunk)


def test_file_names_lose_paths_and_control_characters() -> None:
    assert clean_filename("C:\\Users\\张三\\Desktop\\账目.xlsx") == "账目.xlsx"
    assert clean_filename("/home/lisi/录音\x00\x1b[31m.m4a") == "录音[31m.m4a"
    assert clean_filename("  ") == ""
    assert len(clean_filename("长" * 500 + ".pdf")) == 200
