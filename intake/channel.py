"""The 网络 channel's use cases, shared by the JSON API and the HTML pages.

Every path that spends a receipt derivation is rate limited first: a new
report against the client's submission budget, a receipt check against its
failed-check budget (see ratelimit.py and receipts.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast

from core.runtime import Runtime
from core.settings import Settings
from crypto import ReceiptKeys
from intake.forms import (
    FORM_FIELDS,
    RECEIPT_MESSAGE_FIELDS,
    RECEIPT_STATUS_FIELDS,
    refuse_unknown,
    report_from_form,
    report_from_json,
)
from intake.pipeline import Draft, IntakePipeline, ReporterView, check_reporter_message
from intake.ratelimit import Limits, RateLimiter
from intake.receipts import ReceiptGate, parse_receipt
from intake.uploads import MultipartReader, ReceivedForm, SealTarget, UploadLimits

FieldHook = Callable[[str, str], None]
# Called with the text fields before the first file is read and again before storing
# (the HTML pages check their CSRF token here).
FormCheck = Callable[[Mapping[str, str]], None]


class WebChannel:
    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.pipeline = IntakePipeline(runtime)
        self.limiter = RateLimiter(
            Limits(
                submissions_per_hour=settings.submissions_per_hour,
                failed_checks_per_hour=settings.failed_checks_per_hour,
                failed_checks_per_minute=settings.failed_checks_per_minute,
            )
        )
        self.gate = ReceiptGate(self.limiter, settings.receipt_check_floor_ms / 1000)
        self.upload_limits = UploadLimits(
            max_files=settings.max_attachments, max_file_bytes=settings.max_attachment_bytes
        )

    # --- new reports ---------------------------------------------------------------------

    async def submit_json(self, address: str, data: Mapping[str, Any]) -> str:
        self.limiter.take_submission(address)
        return await self.pipeline.submit(report_from_json(data))

    async def submit_multipart(
        self,
        address: str,
        content_type: str,
        body: AsyncIterator[bytes],
        *,
        extra_fields: frozenset[str] = frozenset(),
        on_field: FieldHook | None = None,
        check_form: FormCheck | None = None,
    ) -> str:
        self.limiter.take_submission(address)
        draft = Draft()

        async def target(form: ReceivedForm) -> SealTarget:
            if check_form is not None:
                check_form(form.fields)
            return draft.case_id, draft.data_key

        form = await self._read_form(
            content_type, body, FORM_FIELDS | extra_fields, target, on_field, check_form
        )
        try:
            report = report_from_form(form.fields)
            draft.attachments.extend(form.attachments)
            return await self.pipeline.submit(report, draft)
        finally:
            form.close()

    async def _read_form(
        self,
        content_type: str,
        body: AsyncIterator[bytes],
        allowed_fields: frozenset[str],
        target: Callable[[ReceivedForm], Awaitable[SealTarget]],
        on_field: FieldHook | None,
        check_form: FormCheck | None,
    ) -> ReceivedForm:
        """Read a multipart form, sealing files as they stream; the caller closes it.

        ``check_form`` runs once more on the complete fields (fields after the files too)."""
        reader = MultipartReader(
            content_type,
            self.upload_limits,
            allowed_fields=allowed_fields,
            seal_target=target,
            on_field=on_field,
        )
        form = await reader.read(body)
        if check_form is not None:
            try:
                check_form(form.fields)
            except BaseException:
                form.close()
                raise
        return form

    # --- the receipt holder's side --------------------------------------------------------

    async def status(self, address: str, receipt: object) -> ReporterView:
        return await self.gate.check(address, receipt, self.pipeline.reporter_view)

    async def status_json(self, address: str, data: Mapping[str, Any]) -> ReporterView:
        refuse_unknown(data, RECEIPT_STATUS_FIELDS)
        return await self.status(address, data.get("receipt"))

    async def add_message_json(self, address: str, data: Mapping[str, Any]) -> None:
        refuse_unknown(data, RECEIPT_MESSAGE_FIELDS)
        text = data.get("text")

        async def add(receipt: str) -> None:
            # check_text inside refuses a non-string with a clear error.
            await self.pipeline.add_reporter_message(receipt, cast(str, text))

        await self.gate.check(address, data.get("receipt"), add)

    async def add_message_multipart(
        self,
        address: str,
        content_type: str,
        body: AsyncIterator[bytes],
        *,
        extra_fields: frozenset[str] = frozenset(),
        on_field: FieldHook | None = None,
        check_form: FormCheck | None = None,
    ) -> None:
        """Added information with files: the form sends receipt and text before the files."""
        opened: list[ReceiptKeys] = []

        async def target(form: ReceivedForm) -> SealTarget:
            if check_form is not None:
                check_form(form.fields)
            receipt = parse_receipt(form.fields.get("receipt"))
            check_reporter_message(receipt, form.fields.get("text", ""))
            case, data_key, keys = await self.gate.check(
                address, receipt, self.pipeline.open_draft_for_receipt
            )
            opened.append(keys)
            return case.id, data_key

        form = await self._read_form(
            content_type, body, RECEIPT_MESSAGE_FIELDS | extra_fields, target, on_field, check_form
        )
        try:
            text = form.fields.get("text", "")
            if opened:
                receipt = parse_receipt(form.fields.get("receipt"))
                await self.pipeline.add_reporter_message(
                    receipt, text, form.attachments, keys=opened[0]
                )
                return

            async def add(receipt: str) -> None:
                await self.pipeline.add_reporter_message(receipt, text)

            await self.gate.check(address, form.fields.get("receipt"), add)
        finally:
            form.close()
