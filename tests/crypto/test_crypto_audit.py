from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import GENESIS_HASH, AuditEvent, ChainBreak, chain_event, event_hash, verify_chain
from crypto.audit import canonical_event


def _chain(count: int, start_hash: str = GENESIS_HASH, start: int = 1) -> list[AuditEvent]:
    events, head = [], start_hash
    for sequence in range(start, start + count):
        body = {"action": "case.view", "actor": f"user{sequence % 3}", "note": "查看案件"}
        event = chain_event(head, sequence, f"ev-{sequence}", body)
        events.append(event)
        head = event.stored_hash
    return events


def test_canonical_encoding_is_sorted_compact_utf8() -> None:
    encoded = canonical_event(7, "e7", {"b": 1, "a": ["巡察", None, True]})
    assert encoded == '{"body":{"a":["巡察",null,true],"b":1},"id":"e7","seq":7}'.encode()


def test_canonical_encoding_refuses_nan() -> None:
    with pytest.raises(ValueError, match="JSON"):
        canonical_event(1, "e", {"x": float("nan")})


def test_hash_chains_to_the_previous_one() -> None:
    first, second = _chain(2)
    assert second.stored_hash == event_hash(first.stored_hash, 2, "ev-2", second.body)
    assert second.stored_hash != event_hash(GENESIS_HASH, 2, "ev-2", second.body)


def test_intact_chain() -> None:
    events = _chain(6)
    verdict = verify_chain(events)
    assert verdict.intact
    assert verdict.kind is None
    assert verdict.checked == 6
    assert verdict.head_hash == events[-1].stored_hash
    assert "intact" in verdict.describe()
    assert verify_chain([]).intact


def _edit_body(event: AuditEvent) -> AuditEvent:
    return dataclasses.replace(event, body={**event.body, "actor": "someone-else"})


def test_edited_body_is_pinpointed() -> None:
    events = _chain(6)
    events[3] = _edit_body(events[3])
    verdict = verify_chain(events)
    assert (verdict.kind, verdict.index, verdict.event_id, verdict.sequence) == (
        ChainBreak.EDITED,
        3,
        "ev-4",
        4,
    )
    assert verdict.checked == 3
    assert verdict.head_hash == events[2].stored_hash
    assert "#4" in verdict.describe()
    assert "edited" in verdict.describe()


def test_edited_stored_hash_is_pinpointed() -> None:
    events = _chain(4)
    events[1] = dataclasses.replace(events[1], stored_hash="f" * 64)
    verdict = verify_chain(events)
    assert (verdict.kind, verdict.index) == (ChainBreak.EDITED, 1)


@pytest.mark.parametrize("position", [0, 2, 4])
def test_deletion_is_pinpointed(position: int) -> None:
    events = _chain(6)
    del events[position]
    verdict = verify_chain(events)
    assert (verdict.kind, verdict.index, verdict.expected_sequence) == (
        ChainBreak.DELETED,
        position,
        position + 1,
    )
    assert f"#{position + 1}" in verdict.describe()
    assert "deleted" in verdict.describe()


def test_insertion_with_a_reused_number_is_pinpointed() -> None:
    events = _chain(5)
    # A forged event that even carries a correct hash for its position.
    forged = chain_event(events[1].stored_hash, 3, "forged", {"action": "case.close"})
    events.insert(2, forged)
    verdict = verify_chain(events)
    assert (verdict.kind, verdict.index, verdict.sequence) == (ChainBreak.INSERTED, 3, 3)


def test_insertion_with_a_wrong_hash_is_pinpointed_at_the_intruder() -> None:
    events = _chain(5)
    forged = dataclasses.replace(events[2], event_id="forged", body={"action": "x"})
    events.insert(2, forged)
    verdict = verify_chain(events)
    assert (verdict.kind, verdict.index, verdict.event_id) == (ChainBreak.INSERTED, 2, "forged")


def test_reordering_is_pinpointed() -> None:
    events = _chain(5)
    events[1], events[3] = events[3], events[1]
    verdict = verify_chain(events)
    assert (verdict.kind, verdict.index, verdict.sequence) == (ChainBreak.REORDERED, 1, 4)
    assert "reordered" in verdict.describe()


def test_checkpoint_verifies_a_tail() -> None:
    events = _chain(10)
    tail = events[6:]
    assert verify_chain(tail, previous_hash=events[5].stored_hash, first_sequence=7).intact
    assert not verify_chain(tail).intact


def test_anchors_catch_a_rewritten_chain_and_a_cut_tail() -> None:
    events = _chain(6)
    anchors = {3: events[2].stored_hash, 6: events[5].stored_hash}
    assert verify_chain(events, anchors=anchors).intact
    # Someone rewrites event 2 and recomputes every hash after it.
    rewritten = events[:1]
    for event in events[1:]:
        body = {"action": "nothing"} if event.sequence == 2 else event.body
        rewritten.append(
            chain_event(rewritten[-1].stored_hash, event.sequence, event.event_id, body)
        )
    assert verify_chain(rewritten).intact  # consistent, which is why anchors exist
    verdict = verify_chain(rewritten, anchors=anchors)
    assert (verdict.kind, verdict.sequence) == (ChainBreak.EDITED, 3)
    # The last two events are cut off.
    verdict = verify_chain(events[:4], anchors=anchors)
    assert (verdict.kind, verdict.index, verdict.expected_sequence, verdict.event_id) == (
        ChainBreak.DELETED,
        4,
        5,
        None,
    )


@given(st.data())
def test_any_single_change_is_detected(data: st.DataObject) -> None:
    events = _chain(8)
    position = data.draw(st.integers(min_value=0, max_value=7))
    change = data.draw(st.sampled_from(["edit", "delete", "duplicate", "swap"]))
    if change == "edit":
        events[position] = _edit_body(events[position])
    elif change == "delete":
        del events[position]
    elif change == "duplicate":
        events.insert(position, events[position])
    else:
        other = data.draw(st.integers(min_value=0, max_value=7).filter(lambda i: i != position))
        events[position], events[other] = events[other], events[position]
    verdict = verify_chain(events, anchors={8: _chain(8)[-1].stored_hash})
    assert not verdict.intact
    assert verdict.index is not None
    assert verdict.index <= position + 1
