"""Files that arrive by mail or from the PBX, sanitised and sealed into a case draft.

They go through the web channel's `AttachmentReceiver` (intake/uploads.py): the same
sanitiser (metadata stripped from images, PDF and Office files; executables refused) and
the same sealing under the draft's data key, so a staff member sees no difference between
a photo sent by mail and one uploaded on the form. The receivers' ciphertext spools are
closed when the ``async with`` block ends, after the case has been submitted.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from intake.pipeline import Draft
from intake.uploads import AttachmentReceiver, SegmentSpool


class DraftFiles:
    def __init__(self, draft: Draft, *, max_file_bytes: int) -> None:
        self.draft = draft
        self.max_file_bytes = max_file_bytes
        self._spools: list[SegmentSpool] = []

    async def add(self, filename: str, content_type: str, data: bytes) -> None:
        """Sanitise and seal one file into the draft (raises the sanitiser's InvalidInput)."""
        receiver = AttachmentReceiver(
            (self.draft.case_id, self.draft.data_key),
            filename,
            content_type,
            keep=False,
            limit=self.max_file_bytes,
        )
        self._spools.append(receiver.spool)
        # JPEG and PNG are cleaned while fed, so feeding is CPU work too: off the event loop.
        await asyncio.to_thread(receiver.feed, data)
        self.draft.attachments.append(await receiver.finish())

    async def __aenter__(self) -> DraftFiles:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        for spool in self._spools:
            spool.close()
