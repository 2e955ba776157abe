"""Turning what a reporter sent (JSON or form fields) into a validated `NewReport`.

Deciding is separate from doing: these functions only check and build; the
pipeline stores. Unknown JSON fields are refused rather than ignored, so a
client that misspells ``accused`` learns it instead of losing the name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.cases import Accused, Channel, NewReport
from core.errors import InvalidInput
from intake.pipeline import check_text
from routing import Discipline

MAX_NAME = 100
MAX_UNIT = 200
MAX_POSITION = 100
MAX_CONTACT = 500

REPORT_FIELDS = frozenset({"text", "accused", "category_hint", "contact"})
ACCUSED_FIELDS = {"name": MAX_NAME, "unit": MAX_UNIT, "position": MAX_POSITION}
# The multipart and HTML form spell the accused person flat (SPEC §6).
FORM_FIELDS = frozenset(
    {"text", "accused_name", "accused_unit", "accused_position", "category_hint", "contact"}
)
RECEIPT_STATUS_FIELDS = frozenset({"receipt"})
RECEIPT_MESSAGE_FIELDS = frozenset({"receipt", "text"})

DISCIPLINE_CHOICES = [(d.value, d.label) for d in Discipline]


def refuse_unknown(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(f"不支持的字段：{', '.join(unknown)[:200]}", code="unknown_field")


def optional_text(value: object, field_name: str, maximum: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field_name} 必须是文字。", code="invalid_field")
    value = value.strip()
    if len(value) > maximum:
        raise InvalidInput(f"{field_name} 不能超过 {maximum} 字。", code="field_too_long")
    return value or None


def category_hint(value: object) -> Discipline | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput("问题类别不正确。", code="invalid_category")
    try:
        return Discipline(value)
    except ValueError:
        raise InvalidInput("问题类别不正确。", code="invalid_category") from None


def report_from_json(data: Mapping[str, Any]) -> NewReport:
    refuse_unknown(data, REPORT_FIELDS)
    accused = data.get("accused")
    if accused is None:
        accused = {}
    if not isinstance(accused, dict):
        raise InvalidInput("accused 必须是对象。", code="invalid_field")
    refuse_unknown(accused, frozenset(ACCUSED_FIELDS))
    return build_report(
        text=data.get("text"),
        name=accused.get("name"),
        unit=accused.get("unit"),
        position=accused.get("position"),
        hint=data.get("category_hint"),
        contact=data.get("contact"),
    )


def report_from_form(fields: Mapping[str, str]) -> NewReport:
    return build_report(
        text=fields.get("text"),
        name=fields.get("accused_name"),
        unit=fields.get("accused_unit"),
        position=fields.get("accused_position"),
        hint=fields.get("category_hint"),
        contact=fields.get("contact"),
    )


def build_report(
    *, text: object, name: object, unit: object, position: object, hint: object, contact: object
) -> NewReport:
    return NewReport(
        channel=Channel.WEB,
        text=check_text(text if text is not None else ""),
        accused=Accused(
            name=optional_text(name, "被反映人姓名", MAX_NAME),
            unit=optional_text(unit, "被反映人单位", MAX_UNIT),
            position=optional_text(position, "被反映人职务", MAX_POSITION),
        ),
        category_hint=category_hint(hint),
        contact=optional_text(contact, "联系方式", MAX_CONTACT),
    )
