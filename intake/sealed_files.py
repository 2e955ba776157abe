"""Sealing a file that arrived by mail or from the PBX into a case draft, before submission.

The content is sealed with the draft's data key as a stream under
``attachment_field(id)``; its name, type and size are sealed as JSON under
``attachment_meta_field(id)``. Only the size bucket stays in clear (SPEC §3).
"""

from __future__ import annotations

import json

from core.cases import SealedAttachment, attachment_field, attachment_meta_field
from core.models import new_id
from crypto import StreamSealer, padded_size, seal_text
from intake.pipeline import Draft


def seal_into_draft(draft: Draft, filename: str, content_type: str, data: bytes) -> None:
    """Seal one file under the draft's key and add it to the draft's attachments."""
    attachment_id = new_id()
    sealer = StreamSealer(draft.data_key, draft.case_id, attachment_field(attachment_id))
    segments = [*sealer.update(data), *sealer.finalize()]
    meta = json.dumps(
        {"name": filename, "content_type": content_type, "size": len(data)}, ensure_ascii=False
    )
    draft.attachments.append(
        SealedAttachment(
            id=attachment_id,
            sealed_meta=seal_text(
                draft.data_key, draft.case_id, attachment_meta_field(attachment_id), meta
            ),
            segments=segments,
            size_bucket=padded_size(len(data)),
        )
    )
