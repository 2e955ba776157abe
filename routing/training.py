"""Turning labelled reports (the corpus schema) into the n-gram model's training counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from routing.classify import HEADS, NONE_CLASS, PRIMARY_HEAD, PROBLEM_TYPE_HEAD
from routing.model import TrainingReport, train


def training_report(record: Mapping[str, Any]) -> TrainingReport:
    """One corpus line → the model's view of it (text, accused position, labels)."""
    accused = record.get("accused") or {}
    return TrainingReport(
        text=str(record["text"]),
        position=accused.get("position"),
        labels={
            PRIMARY_HEAD: record.get("primary") or NONE_CLASS,
            PROBLEM_TYPE_HEAD: str(record["problem_type"]),
        },
    )


def train_classifier_model(records: Iterable[Mapping[str, Any]]) -> dict[str, object]:
    """Model file content for these records; deterministic for a given order of records."""
    return train([training_report(r) for r in records], HEADS)
