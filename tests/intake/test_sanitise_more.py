"""Metadata stripping for WebP, GIF, HEIC/HEIF/AVIF and legacy Office (OLE2) files.

Each file is built here (Pillow for WebP, GIF and AVIF; ISO BMFF boxes and a compound
file by hand) with a canary in every place that leaks — EXIF with a GPS string, XMP,
comments, application extensions, unknown chunks, the author and company of an Office
file — and each cleaner must remove every canary and leave a file that still opens.
"""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import struct
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.runtime import Runtime
from intake.sanitise import RefusedAttachment, SniffingCleaner, UnreadableAttachment
from tests.conftest import BACKENDS
from tests.intake.conftest import open_attachments

CANARY = b"Canary7f3a"
GPS_TEXT = CANARY + b"GPS"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + CANARY + b"xmp</x:xmpmeta>"


def _run(data: bytes, *, keep: bool = False, chunk: int = 0) -> tuple[bytes, bool]:
    cleaner = SniffingCleaner("证据", keep_original=keep)
    out = bytearray()
    step = chunk or max(len(data), 1)
    for i in range(0, len(data), step):
        out += cleaner.feed(data[i : i + step])
    out += cleaner.finish()
    return bytes(out), cleaner.sanitised


def _exif_with_gps(image: Image.Image) -> Image.Exif:
    exif = image.getexif()
    exif[0x010F] = CANARY.decode() + "Make"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 5.0)
    gps[0x12] = GPS_TEXT.decode()  # GPSMapDatum: a GPS field that is text
    return exif


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- WebP -----------------------------------------------------------------------------------


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + bytes(len(payload) & 1)


def webp_with_metadata(**options: object) -> bytes:
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    buffer = io.BytesIO()
    image.save(
        buffer,
        "WEBP",
        exif=_exif_with_gps(image),
        xmp=XMP,
        icc_profile=b"\x00" * 128 + b"ICCBODY",
        **options,
    )
    data = buffer.getvalue()
    hidden = _riff_chunk(b"ZZZZ", CANARY + b"unknown chunk")  # decoders skip unknown chunks
    body = data[8:] + hidden
    return b"RIFF" + struct.pack("<I", len(body)) + body + b"after RIFF " + CANARY


def test_webp_loses_exif_gps_xmp_unknown_chunks_and_trailers() -> None:
    original = webp_with_metadata(lossless=True)
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(0x8825)
    assert "xmp" in before.info
    cleaned, sanitised = _run(original, chunk=7)
    assert sanitised
    assert CANARY not in cleaned
    assert b"EXIF" not in cleaned
    assert b"XMP " not in cleaned
    assert struct.unpack_from("<I", cleaned, 4)[0] == len(cleaned) - 8
    assert cleaned[20] & 0x0C == 0  # VP8X no longer announces EXIF or XMP
    after = _decoded(cleaned)
    assert after.size == (32, 24)
    assert dict(after.getexif()) == {}
    assert "xmp" not in after.info
    assert after.info["icc_profile"].endswith(b"ICCBODY")  # colours kept
    assert after.getpixel((5, 5)) == (200, 30, 30)


def test_lossy_and_animated_webp_still_play() -> None:
    lossy, _ = _run(webp_with_metadata(quality=80))
    assert CANARY not in lossy
    assert _decoded(lossy).getpixel((5, 5))[0] > 150
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=200,
        loop=0,
        exif=_exif_with_gps(frames[0]),
        xmp=XMP,
        lossless=True,
    )
    cleaned, _ = _run(buffer.getvalue(), chunk=11)
    assert CANARY not in cleaned
    animation = Image.open(io.BytesIO(cleaned))
    assert animation.n_frames == 2
    animation.seek(1)
    assert animation.convert("RGB").getpixel((3, 3)) == (0, 0, 255)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:40],  # cut inside a chunk
        lambda data: data[:8] + b"WEBP" + b"\x00" * 6,  # a chunk header cut short
        lambda data: data[:4] + struct.pack("<I", 1 << 30) + data[8:],  # claims 1 GiB
        lambda data: data[:12] + b"ZZZZ\x02\x00\x00\x00ab",  # nothing that draws a picture
    ],
)
def test_damaged_webp_is_refused_with_the_readers_message(
    damage: Callable[[bytes], bytes],
) -> None:
    with pytest.raises(UnreadableAttachment) as caught:
        _run(damage(webp_with_metadata(lossless=True)))
    assert caught.value.status == 422


# --- GIF ------------------------------------------------------------------------------------


def _xmp_extension(xmp: bytes) -> bytes:
    # XMP in GIF is raw bytes ended by a 258-byte "magic trailer" that makes any
    # sub-block walk land on the terminator (XMP specification part 3, 1.1.2).
    trailer = bytes([1, *range(255, -1, -1)]) + b"\x00"
    return b"\x21\xff\x0bXMP DataXMP" + xmp + trailer


def gif_with_metadata(*, animated: bool = False) -> bytes:
    frames = [Image.new("P", (16, 16), 1)]
    if animated:
        frames.append(Image.new("P", (16, 16), 2))
    for frame in frames:
        frame.putpalette([0, 0, 0, 200, 30, 30, 0, 0, 255] + [0] * 759)
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        comment=CANARY + b"comment",
        save_all=animated,
        append_images=frames[1:],
        duration=150,
        loop=0,
    )
    data = buffer.getvalue()
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the colours
    editor = b"\x21\xff\x0bEDITORAPP10\x0c" + CANARY + b"ab\x00"  # another application's note
    extra = _xmp_extension(XMP) + editor + b"\x21\x99\x03" + CANARY[:3] + b"\x00"
    return data[:at] + extra + data[at:] + b"after trailer " + CANARY


def test_gif_loses_comments_xmp_and_foreign_extensions_but_keeps_looping() -> None:
    original = gif_with_metadata(animated=True)
    assert Image.open(io.BytesIO(original)).n_frames == 2  # the extensions are well formed
    assert original.count(CANARY) == 4  # comment, XMP, editor note, after the trailer
    cleaned, sanitised = _run(original, chunk=5)
    assert sanitised
    assert CANARY not in cleaned
    assert b"XMP DataXMP" not in cleaned
    assert b"EDITORAPP" not in cleaned
    assert b"NETSCAPE2.0" in cleaned
    assert cleaned.endswith(b";")
    animation = Image.open(io.BytesIO(cleaned))
    assert "comment" not in animation.info
    assert animation.info["loop"] == 0
    assert animation.n_frames == 2
    assert animation.convert("RGB").getpixel((3, 3)) == (200, 30, 30)
    animation.seek(1)
    assert animation.info["duration"] == 150
    assert animation.convert("RGB").getpixel((3, 3)) == (0, 0, 255)


def test_gif_cleaning_does_not_depend_on_chunk_boundaries() -> None:
    original = gif_with_metadata()
    whole, _ = _run(original)
    assert CANARY not in whole
    assert _run(original, chunk=1)[0] == whole
    rng = random.Random(11)
    cleaner = SniffingCleaner("动图.gif", keep_original=False)
    out, at = bytearray(), 0
    while at < len(original):
        step = rng.randint(1, 300)
        out += cleaner.feed(original[at : at + step])
        at += step
    assert bytes(out + cleaner.finish()) == whole


def test_gif_without_a_trailer_gets_one_and_a_cut_gif_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("P", (8, 8), 1).save(buffer, "GIF")
    complete = buffer.getvalue()
    mended, _ = _run(complete[:-1])
    assert mended == complete
    with pytest.raises(UnreadableAttachment):
        _run(complete[:-5])


# --- HEIC / HEIF / AVIF ---------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


def _exif_payload() -> bytes:
    exif = _exif_with_gps(Image.new("RGB", (1, 1)))
    tiff = exif.tobytes()  # begins with "Exif\0\0"
    return struct.pack(">I", 6) + tiff  # HEIF's offset to the TIFF header, then the block


def heic_with_metadata(*, in_idat: bool = False) -> tuple[bytes, dict[str, list[range]]]:
    """A minimal HEIC: picture, Exif split over two extents, and XMP; where each item lies."""
    picture, exif = b"HEVC" * 64, _exif_payload()
    exif_parts = [exif[:20], exif[20:]]
    entries = [
        struct.pack(">HH", 1, 0) + b"hvc1" + b"\x00",
        struct.pack(">HH", 2, 0) + b"Exif" + b"\x00",
        struct.pack(">HH", 3, 0) + b"mime" + b"XMP\x00application/rdf+xml\x00",
    ]
    iinf = _full_box(
        b"iinf", 0, struct.pack(">H", 3) + b"".join(_full_box(b"infe", 2, e) for e in entries)
    )
    head = _box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    hdlr = _full_box(b"hdlr", 0, bytes(4) + b"pict" + bytes(12) + b"\x00")
    pitm = _full_box(b"pitm", 0, struct.pack(">H", 1))

    def iloc(spans: dict[int, list[tuple[int, int, int]]]) -> bytes:
        body = b"\x44\x00" + struct.pack(">H", len(spans))  # 4-byte offsets and lengths
        for item, extents in spans.items():
            method = extents[0][0]
            body += struct.pack(">HHH", item, method, 0) + struct.pack(">H", len(extents))
            body += b"".join(struct.pack(">II", offset, length) for _, offset, length in extents)
        return _full_box(b"iloc", 1, body)

    def build(start: int) -> tuple[bytes, dict[str, list[range]]]:
        # mdat payload: picture, xmp, exif (unless in idat); offsets counted from `start`.
        mdat = picture + XMP + (b"" if in_idat else b"".join(exif_parts))
        exif_base = 0 if in_idat else start + len(picture) + len(XMP)
        method = 1 if in_idat else 0
        spans = {
            1: [(0, start, len(picture))],
            2: [
                (method, exif_base, len(exif_parts[0])),
                (method, exif_base + len(exif_parts[0]), len(exif_parts[1])),
            ],
            3: [(0, start + len(picture), len(XMP))],
        }
        idat = _box(b"idat", b"".join(exif_parts)) if in_idat else b""
        meta = _full_box(b"meta", 0, hdlr + pitm + iinf + iloc(spans) + idat)
        data = head + meta + _box(b"mdat", mdat)
        exif_at = data.find(exif_parts[0])
        places = {
            "picture": [range(start, start + len(picture))],
            "xmp": [range(start + len(picture), start + len(picture) + len(XMP))],
            "exif": [range(exif_at, exif_at + len(exif))],
        }
        return data, places

    draft, _ = build(0)
    mdat_payload = len(draft) - len(picture) - len(XMP) - (0 if in_idat else len(exif))
    return build(mdat_payload)


@pytest.mark.parametrize("in_idat", [False, True])
def test_heic_exif_and_xmp_items_are_emptied_in_place(in_idat: bool) -> None:
    original, places = heic_with_metadata(in_idat=in_idat)
    assert GPS_TEXT in original
    assert CANARY + b"xmp" in original
    cleaned, sanitised = _run(original, chunk=9)
    assert sanitised
    assert len(cleaned) == len(original)
    assert CANARY not in cleaned
    changed = {i for i in range(len(original)) if original[i] != cleaned[i]}
    metadata = {i for key in ("exif", "xmp") for span in places[key] for i in span}
    assert changed <= metadata  # every box, size and offset is where it was
    [exif] = places["exif"]
    emptied = Image.Exif()
    emptied.load(cleaned[exif.start + 4 : exif.stop])
    assert dict(emptied) == {}
    [picture] = places["picture"]
    assert cleaned[picture.start : picture.stop] == b"HEVC" * 64


def test_avif_from_pillow_still_decodes_without_its_exif_and_xmp() -> None:
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, "AVIF", exif=_exif_with_gps(image), xmp=XMP * 3)
    original = buffer.getvalue()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    cleaned, sanitised = _run(original)
    assert sanitised
    assert CANARY not in cleaned
    assert GPS_TEXT not in cleaned
    after = _decoded(cleaned)
    assert dict(after.getexif()) == {}
    assert CANARY not in after.info.get("xmp", b"")
    assert after.getpixel((5, 5))[0] > 150


def test_heif_that_cannot_be_parsed_is_kept_as_uploaded_and_not_marked_cleaned() -> None:
    garbage = b"\x00\x00\x00\x18ftypheic" + bytes(12) + b"\xff" * 50 + GPS_TEXT
    assert _run(garbage) == (garbage, False)
    original, places = heic_with_metadata()
    [exif] = places["exif"]
    far = original.replace(struct.pack(">I", exif.start), struct.pack(">I", 1 << 30), 1)
    assert far != original
    assert _run(far) == (far, False)  # an extent outside the file: nothing half-cleaned


# --- Legacy Office (OLE2 compound files) ----------------------------------------------------

SUMMARY = uuid.UUID("f29f85e0-4ff9-1068-ab91-08002b27b3d9").bytes_le
DOC_SUMMARY = uuid.UUID("d5cdd502-2e9c-101b-9397-08002b2cf9ae").bytes_le
AUTHOR = "张三".encode("gbk") + CANARY + b"author"
COMPANY = "县自然资源局".encode("gbk") + CANARY + b"company"


def property_set(fmtid: bytes, values: dict[int, bytes | int]) -> bytes:
    """A property set stream (MS-OLEPS): code page as VT_I2, strings as VT_LPSTR."""
    encoded = []
    for pid, value in values.items():
        if isinstance(value, int):
            encoded.append((pid, struct.pack("<HHhH", 2, 0, value, 0)))
        else:
            text = value + b"\x00"
            encoded.append((pid, struct.pack("<HHI", 0x1E, 0, len(text)) + text))
            encoded[-1] = (pid, encoded[-1][1] + bytes(-len(encoded[-1][1]) % 4))
    table, body, first = b"", b"", 8 + 8 * len(encoded)
    for pid, value in encoded:
        table += struct.pack("<II", pid, first + len(body))
        body += value
    section = struct.pack("<II", 8 + len(table) + len(body), len(encoded)) + table + body
    header = struct.pack("<HHI16sI", 0xFFFE, 0, 0x00020006, bytes(16), 1) + fmtid
    return header + struct.pack("<I", 48) + section


Tree = dict[str, "bytes | Tree"]


def compound_file(tree: Tree) -> bytes:
    """A version 3 compound file with 512-byte sectors; streams under 4096 bytes go in the
    mini stream, as Office writes its property sets."""
    free, end, fat_sector, none = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    mini, minifat, big = bytearray(), [], []
    entries: list[list[Any]] = [["Root Entry", 5, none, none, none, end, 0]]

    def add(node: Tree) -> int:
        names = sorted(node, key=lambda n: (len(n), n.upper()))
        first = len(entries)
        for name in names:
            entries.append([name, 0, none, none, none, end, 0])
        for i, name in enumerate(names):
            entry, value = entries[first + i], node[name]
            entry[3] = first + i + 1 if i + 1 < len(names) else none  # right sibling
            if isinstance(value, dict):
                entry[1], entry[4], entry[5] = 1, add(value), 0
            elif len(value) < 4096:
                entry[1], entry[5], entry[6] = 2, len(mini) // 64, len(value)
                count = -(-len(value) // 64)
                minifat.extend([*range(entry[5] + 1, entry[5] + count), end])
                mini.extend(value + bytes(count * 64 - len(value)))
            else:
                entry[1], entry[6] = 2, len(value)
                big.append((entry, value))
        return first

    entries[0][4] = add(tree)
    dir_sectors = -(-len(entries) * 128 // 512)
    fat = [fat_sector, *range(2, 1 + dir_sectors), end]
    minifat_at = len(fat)
    fat.append(end)
    body = bytearray()
    chain: list[tuple[int, bytes]] = [(len(fat), bytes(mini))] if mini else []
    if mini:
        entries[0][5], entries[0][6] = len(fat), len(mini)
        sectors = -(-len(mini) // 512)
        fat.extend([*range(len(fat) + 1, len(fat) + sectors), end])
    for entry, value in big:
        entry[5] = len(fat)
        sectors = -(-len(value) // 512)
        fat.extend([*range(len(fat) + 1, len(fat) + sectors), end])
        chain.append((entry[5], value))
    assert len(fat) <= 128  # one FAT sector
    assert len(minifat) <= 128  # one MiniFAT sector
    directory = b""
    for name, kind, left, right, child, start, size in entries:
        encoded = str(name).encode("utf-16-le") + b"\x00\x00"
        directory += struct.pack(
            "<64sHBBIII16sIQQIQ",
            encoded, len(encoded), kind, 1, left, right, child, bytes(16), 0, 0, 0, start, size,
        )  # fmt: skip
    directory += bytes(-len(directory) % 512)
    for _, data in chain:
        body += data + bytes(-len(data) % 512)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"), bytes(16), 0x3E, 3, 0xFFFE, 9, 6, bytes(6),
        0, 1, 1, 0, 4096, minifat_at, 1, end, 0,
    )  # fmt: skip
    header += struct.pack("<109I", 0, *[free] * 108)
    fat_block = struct.pack("<128I", *fat, *[free] * (128 - len(fat)))
    minifat_block = struct.pack("<128I", *minifat, *[free] * (128 - len(minifat)))
    return header + fat_block + directory + minifat_block + bytes(body)


WORD_TEXT = "账目表在附件里".encode("utf-16-le") * 400


def legacy_doc() -> bytes:
    summary = property_set(SUMMARY, {1: 936, 4: AUTHOR, 8: AUTHOR, 2: CANARY + b"title"})
    doc_summary = property_set(DOC_SUMMARY, {1: 936, 0x0F: COMPANY, 0x0E: AUTHOR})
    return compound_file(
        {
            "WordDocument": WORD_TEXT,
            "\x05SummaryInformation": summary,
            "\x05DocumentSummaryInformation": doc_summary,
            "ObjectPool": {"_1234": {"\x05SummaryInformation": summary, "Contents": b"x" * 80}},
        }
    )


def test_legacy_office_loses_author_company_and_embedded_authors() -> None:
    original = legacy_doc()
    with olefile.OleFileIO(original) as before:
        assert before.get_metadata().author == AUTHOR
        assert before.get_metadata().company == COMPANY
    cleaned, sanitised = _run(original, chunk=100)
    assert sanitised
    assert len(cleaned) == len(original)
    assert CANARY not in cleaned
    assert "张三".encode("gbk") not in cleaned
    with olefile.OleFileIO(cleaned) as after:
        meta = after.get_metadata()
        assert (meta.author, meta.last_saved_by, meta.company, meta.title) == (None,) * 4
        assert after.getproperties("\x05SummaryInformation") == {1: 936}  # code page kept
        assert after.getproperties("\x05DocumentSummaryInformation") == {1: 936}
        assert after.getproperties("ObjectPool/_1234/\x05SummaryInformation") == {1: 936}
        assert after.openstream("WordDocument").read() == WORD_TEXT
        assert after.openstream("ObjectPool/_1234/Contents").read() == b"x" * 80


@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice")
@pytest.mark.slow
def test_legacy_word_file_written_by_libreoffice_opens_after_cleaning(tmp_path: Path) -> None:
    source = tmp_path / "举报.fodt"
    source.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><office:document'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.2"'
        ' office:mimetype="application/vnd.oasis.opendocument.text"><office:meta>'
        f"<meta:initial-creator>{CANARY.decode()}Creator</meta:initial-creator>"
        f"<dc:creator>{CANARY.decode()}Editor</dc:creator></office:meta><office:body>"
        "<office:text><text:p>账目表在附件里</text:p></office:text></office:body></office:document>",
        encoding="utf-8",
    )

    def convert(path: Path, target: str) -> Path:
        suffix = target.split(":")[0]
        command = [
            str(shutil.which("soffice")),
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            target,
            str(path),
            "--outdir",
            str(tmp_path / suffix),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603 - files the test wrote
        return tmp_path / suffix / f"{path.stem}.{suffix}"

    original = convert(source, "doc").read_bytes()
    assert CANARY in original
    cleaned, sanitised = _run(original)
    assert sanitised
    assert CANARY not in cleaned
    (tmp_path / "cleaned.doc").write_bytes(cleaned)
    text = convert(tmp_path / "cleaned.doc", "txt:Text (encoded):UTF8").read_text("utf-8-sig")
    assert "账目表在附件里" in text


def test_damaged_legacy_office_file_is_refused() -> None:
    magic = bytes.fromhex("d0cf11e0a1b11ae1")
    for damaged in (magic + b"\x00" * 40, magic + bytes(600), legacy_doc()[:1500]):
        with pytest.raises(UnreadableAttachment):
            _run(damaged)


# --- all of them ----------------------------------------------------------------------------


def _samples() -> dict[str, bytes]:
    return {
        "webp": webp_with_metadata(lossless=True),
        "gif": gif_with_metadata(animated=True),
        "heic": heic_with_metadata()[0],
        "ole": legacy_doc(),
    }


SAMPLES = _samples()


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_keep_original_keeps_every_byte(kind: str) -> None:
    assert _run(SAMPLES[kind], keep=True, chunk=333) == (SAMPLES[kind], False)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(sorted(SAMPLES)),
    position=st.integers(min_value=0, max_value=6000),
    garbage=st.binary(min_size=1, max_size=8),
    cut=st.integers(min_value=12, max_value=7000),
    chunk=st.integers(min_value=1, max_value=997),
)
def test_damaged_files_end_in_a_clean_refusal_a_file_or_the_upload_never_a_crash(
    kind: str, position: int, garbage: bytes, cut: int, chunk: int
) -> None:
    original = SAMPLES[kind]
    damaged = original[:position] + garbage + original[position + len(garbage) :]
    damaged = damaged[:cut]
    # Whatever the damage: a cleaned file, the upload as it was (unknown or unparseable
    # HEIF), or the reporter told it cannot be read. Never another error.
    with contextlib.suppress(UnreadableAttachment, RefusedAttachment):
        cleaned, sanitised = _run(damaged, chunk=chunk)
        if kind == "heic" and damaged[4:12] == original[4:12]:
            assert len(cleaned) == len(damaged)
            assert sanitised or cleaned == damaged


# --- through the public API -----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_webp_sent_with_a_report_is_stored_without_its_gps(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    photo = webp_with_metadata(quality=90)
    assert GPS_TEXT in photo
    response = await client.post(
        "/api/v1/reports",
        data={"text": "县自然资源局审批科科长李某某收受开发商好处费，照片是用手机拍的。"},
        files=[("attachments", ("微信图片.webp", photo, "image/webp"))],
    )
    assert response.status_code == 201, response.text
    [(meta, stored)] = await open_attachments(demo_runtime, response.json()["receipt"])
    assert meta["sanitised"] is True
    assert meta["name"] == "微信图片.webp"
    assert GPS_TEXT not in stored
    assert CANARY not in stored
    image = _decoded(stored)
    assert image.getexif().get_ifd(0x8825) == {}
    assert image.size == (32, 24)
