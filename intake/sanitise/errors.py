"""What can go wrong with an attachment, as the reporter is told it."""

from __future__ import annotations

from core.errors import InvalidInput


class UnreadableAttachment(InvalidInput):
    code = "attachment_unreadable"

    def __init__(self) -> None:
        super().__init__(
            "附件无法读取（文件可能已损坏或已加密），因此无法清除其中的个人信息。"
            "如需原样提交，请勾选“保留原件作为证据”。"
        )


class RefusedAttachment(InvalidInput):
    code = "attachment_type_refused"
    status = 415

    def __init__(self) -> None:
        super().__init__("不接受可执行程序或脚本作为附件。")


class AttachmentTooLarge(InvalidInput):
    code = "attachment_too_large"
    status = 413

    def __init__(self, message: str) -> None:
        super().__init__(message)
