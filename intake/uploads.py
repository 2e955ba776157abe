"""Streaming multipart: fields in memory, files sanitised and sealed while they arrive.

Starlette's form parser spools uploads to disk in the clear past 1 MB, so the
public app parses the body itself with python-multipart's streaming parser.
Each file chunk goes through the sanitiser and `StreamSealer` at once; only
ciphertext is ever buffered, and past a few MiB it moves to a temporary file
(`SegmentSpool`). Nothing is stored until the whole body has arrived and been
checked: a client that disconnects mid-upload leaves no rows and no blobs.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from core.cases import SealedAttachment, attachment_field, attachment_meta_field
from core.errors import InvalidInput
from core.models import new_id
from crypto import CaseKey as DataKey
from crypto import StreamSealer, seal_text
from intake.sanitise import AttachmentTooLarge, SniffingCleaner

FILE_FIELD = "attachments"
KEEP_ORIGINAL = "keep_original"
SPOOL_IN_MEMORY = 4 * 1024 * 1024
MAX_FILENAME = 200

if TYPE_CHECKING:  # a TypedDict that exists only for type checkers
    from python_multipart.multipart import MultipartCallbacks

SealTarget = tuple[str, DataKey]


@dataclass(frozen=True)
class UploadLimits:
    max_files: int
    max_file_bytes: int
    max_field_bytes: int = 128 * 1024
    max_fields: int = 16


class SegmentSpool(Sequence[bytes]):
    """Sealed segments, in memory and then in an anonymous temporary file (ciphertext only)."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 — closed by close()
        self._spans: list[tuple[int, int]] = []
        self.total = 0

    def append(self, piece: bytes) -> None:
        self._file.seek(self.total)
        self._file.write(piece)
        self._spans.append((self.total, len(piece)))
        self.total += len(piece)

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        offset, length = self._spans[index]
        self._file.seek(offset)
        return self._file.read(length)

    def close(self) -> None:
        self._file.close()


def size_bucket(sealed_bytes: int) -> int:
    """The only size that stays in clear: the sealed size rounded up to a power of two."""
    return 1 << max(0, sealed_bytes - 1).bit_length()


class AttachmentReceiver:
    """One file: bytes in, sanitised and sealed into a spool."""

    def __init__(
        self, target: SealTarget, filename: str, content_type: str, *, keep: bool, limit: int
    ) -> None:
        self.case_id, self.data_key = target
        self.id = new_id()
        self.filename = filename
        self.content_type = content_type
        self.limit = limit
        self.received = 0
        self.stored = 0
        self.cleaner = SniffingCleaner(filename, keep_original=keep)
        self.sealer = StreamSealer(self.data_key, self.case_id, attachment_field(self.id))
        self.spool = SegmentSpool()

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            raise AttachmentTooLarge(f"单个附件不能超过 {self.limit // (1024 * 1024) or 1} MB。")
        self._seal(self.cleaner.feed(chunk))

    def _seal(self, plaintext: bytes) -> None:
        if plaintext:
            self.stored += len(plaintext)
            for piece in self.sealer.update(plaintext):
                self.spool.append(piece)

    async def finish(self) -> SealedAttachment:
        # PDF and Office files are cleaned here, off the event loop.
        self._seal(await asyncio.to_thread(self.cleaner.finish))
        for piece in self.sealer.finalize():
            self.spool.append(piece)
        meta = {
            "name": self.filename,
            "content_type": self.content_type,
            "size": self.stored,
            "sanitised": self.cleaner.sanitised,
        }
        return SealedAttachment(
            id=self.id,
            sealed_meta=seal_text(
                self.data_key,
                self.case_id,
                attachment_meta_field(self.id),
                json.dumps(meta, ensure_ascii=False),
            ),
            segments=self.spool,
            size_bucket=size_bucket(self.spool.total),
        )


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    attachments: list[SealedAttachment] = field(default_factory=list)
    spools: list[SegmentSpool] = field(default_factory=list)

    def close(self) -> None:
        for spool in self.spools:
            spool.close()


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise InvalidInput(
            "请以 multipart/form-data 提交。", code="unsupported_media_type", status=415
        )
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:
        raise InvalidInput("表单格式不正确。", code="malformed_multipart")
    return boundary


def clean_filename(raw: str) -> str:
    """The last path component, printable characters only (old browsers send a full path)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable()).strip()[:MAX_FILENAME]


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what}不是有效的 UTF-8 文字。", code="invalid_utf8") from None


class MultipartReader:
    """Reads one multipart body.

    ``seal_target`` is awaited when the first file begins (a new report knows its
    case already; added information learns it from the receipt field, which the
    form sends first). ``on_field`` sees each text field as soon as it is complete,
    so a bad CSRF token stops the upload before any file is read.
    """

    def __init__(
        self,
        content_type: str,
        limits: UploadLimits,
        *,
        allowed_fields: frozenset[str],
        seal_target: Callable[[ReceivedForm], Awaitable[SealTarget]],
        on_field: Callable[[str, str], None] | None = None,
    ) -> None:
        self.limits = limits
        self.allowed = allowed_fields | {KEEP_ORIGINAL}
        self.seal_target = seal_target
        self.on_field = on_field
        self.events: list[tuple[str, bytes]] = []
        self.parser = MultipartParser(boundary_of(content_type), self._callbacks())
        self.form = ReceivedForm()
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._field: tuple[str, bytearray] | None = None
        self._file: AttachmentReceiver | None = None

    def _callbacks(self) -> MultipartCallbacks:
        def data(kind: str) -> Callable[[bytes, int, int], None]:
            return lambda buf, start, end: self.events.append((kind, bytes(buf[start:end])))

        def mark(kind: str) -> Callable[[], None]:
            return lambda: self.events.append((kind, b""))

        return {
            "on_part_begin": mark("part_begin"),
            "on_part_data": data("part_data"),
            "on_part_end": mark("part_end"),
            "on_header_field": data("header_field"),
            "on_header_value": data("header_value"),
            "on_header_end": mark("header_end"),
            "on_headers_finished": mark("headers_finished"),
            "on_end": mark("end"),
        }

    async def read(self, stream: AsyncIterator[bytes]) -> ReceivedForm:
        try:
            async for chunk in stream:
                try:
                    self.parser.write(chunk)
                except MultipartParseError:
                    raise InvalidInput("表单格式不正确。", code="malformed_multipart") from None
                await self._drain()
            self.parser.finalize()
            await self._drain()
            if not self.ended:
                raise InvalidInput("表单不完整，请重新提交。", code="malformed_multipart")
            return self.form
        except BaseException:
            if self._file is not None:
                self._file.spool.close()
            self.form.close()
            raise

    async def _drain(self) -> None:
        events, self.events = self.events, []
        for kind, payload in events:
            await self._handle(kind, payload)

    async def _handle(self, kind: str, payload: bytes) -> None:
        if kind == "part_begin":
            self._headers, self._header_name, self._header_value = {}, b"", b""
        elif kind == "header_field":
            self._header_name += payload
        elif kind == "header_value":
            self._header_value += payload
        elif kind == "header_end":
            self._headers[self._header_name.lower()] = self._header_value
            self._header_name, self._header_value = b"", b""
        elif kind == "headers_finished":
            await self._start_part()
        elif kind == "part_data":
            self._part_data(payload)
        elif kind == "part_end":
            await self._end_part()
        elif kind == "end":
            self.ended = True

    async def _start_part(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidInput("表单格式不正确。", code="malformed_multipart")
        name = _decode(options[b"name"], "字段名")
        if b"filename" not in options:
            if name not in self.allowed or name == FILE_FIELD:
                raise InvalidInput(f"不支持的字段：{name[:50]}", code="unknown_field")
            if name in self.form.fields or self._field is not None:
                raise InvalidInput(f"字段重复：{name[:50]}", code="duplicate_field")
            if name == KEEP_ORIGINAL and self.form.attachments:
                raise InvalidInput("“保留原件”须在附件之前提交。", code="field_order")
            if len(self.form.fields) >= self.limits.max_fields:
                raise InvalidInput("字段过多。", code="too_many_fields")
            self._field = (name, bytearray())
            return
        if name != FILE_FIELD:
            raise InvalidInput(f"不支持的附件字段：{name[:50]}", code="unknown_field")
        filename = clean_filename(_decode(options[b"filename"], "文件名"))
        if not filename:  # a browser sends an empty file part when no file was chosen
            return
        if len(self.form.attachments) >= self.limits.max_files:
            raise AttachmentTooLarge(f"附件最多 {self.limits.max_files} 个。")
        target = await self.seal_target(self.form)
        content_type = _decode(self._headers.get(b"content-type", b""), "文件类型")
        self._file = AttachmentReceiver(
            target,
            filename,
            content_type[:100] or "application/octet-stream",
            keep=self.form.fields.get(KEEP_ORIGINAL, "") not in ("", "0", "false"),
            limit=self.limits.max_file_bytes,
        )

    def _part_data(self, payload: bytes) -> None:
        if self._file is not None:
            self._file.feed(payload)
        elif self._field is not None:
            self._field[1].extend(payload)
            if len(self._field[1]) > self.limits.max_field_bytes:
                raise InvalidInput("填写的内容过长。", code="field_too_large", status=413)

    async def _end_part(self) -> None:
        if self._file is not None:
            receiver, self._file = self._file, None
            self.form.spools.append(receiver.spool)
            self.form.attachments.append(await receiver.finish())
        elif self._field is not None:
            name, raw = self._field
            self._field = None
            value = _decode(bytes(raw), "填写的内容")
            self.form.fields[name] = value
            if self.on_field is not None:
                self.on_field(name, value)
