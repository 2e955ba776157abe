"""Who may see and do what in the staff app (SPEC §1): the one authorisation module.

Every endpoint names one :class:`Rule`; :func:`admin.web.endpoint` asks :func:`allows`
before the endpoint runs. Deciding is pure (no I/O): the caller loads the facts
(:class:`Actor`, and :class:`CaseFacts` for rules about one case) and this module says yes or no.

Reading a case needs more than a rule: the user's body must hold a wrapped case key
(``core.access``) and the user must not be recused (回避). The rules here are the *role* side;
``core.access`` is the *key* side; both must agree. A recused or keyless user gets 404, never
403, so that a case's existence is not confirmed to someone who may not see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from core.county import BodyKind, Role


class Rule(StrEnum):
    PUBLIC = "public"  # anyone, logged in or not (login form, health check)
    SIGNED_IN = "signed_in"  # any signed-in user, even before 2FA enrolment (logout, enrol)
    ACCOUNT = "account"  # any fully signed-in user (own password, own sessions)
    LIST_CASES = "list_cases"  # the queue
    READ_CASE = "read_case"  # open one case (plus key and 回避 checks in core.access)
    TRIAGE = "triage"  # confirm or override tags
    REPLY = "reply"  # write to the reporter
    NOTE = "note"  # internal note (encrypted)
    PROPOSE_TRANSFER = "propose_transfer"  # 提出移交
    DECIDE_TRANSFER = "decide_transfer"  # 巡察办 approves or rejects a 移交
    FEEDBACK = "feedback"  # 书面反馈 by the receiving body
    CLOSE = "close"  # 销号, duplicate, not accepted
    VIEW_AUDIT = "view_audit"  # the audit log (巡察办, 领导小组)
    OVERSIGHT = "oversight"  # counts over plaintext metadata (巡察办, 领导小组)
    ENTER_REPORT = "enter_report"  # hotline operator enters a call or a letter
    ADMINISTER = "administer"  # units, users, rounds, 回避, keys (巡察办)
    # 托管恢复: bring the escrow private key to the console to re-key a user who lost both
    # password and recovery code. The escrow key opens every body key, so only administrators
    # (role admin), not every member of the office body.
    RECOVER_WITH_ESCROW = "recover_with_escrow"


@dataclass(frozen=True)
class Actor:
    """A signed-in user as the policy sees them."""

    user_id: str
    role: Role
    body_ids: frozenset[str] = frozenset()
    body_kinds: frozenset[BodyKind] = frozenset()
    enrolled: bool = True  # 2FA done (or a demo user); until then only SIGNED_IN rules pass

    @property
    def is_office(self) -> bool:
        """巡察办 administrators: role admin, or a member of the office body."""
        return self.role is Role.ADMIN or BodyKind.OFFICE in self.body_kinds


@dataclass(frozen=True)
class CaseFacts:
    """The plaintext facts of one case that the rules depend on."""

    assignee_body_id: str
    status: str
    transfer_destination_body_id: str | None = None  # of the approved 移交, if any
    pending_transfer: bool = False


# Roles that read cases at all; the hotline operator enters reports and reads none (SPEC §1).
_READERS = frozenset({Role.ADMIN, Role.MEMBER, Role.LEADER})


def _is_handler(actor: Actor, case: CaseFacts | None) -> bool:
    """The assignee body's members (usually a 巡察组) or 巡察办 handle a case."""
    return actor.is_office or (case is not None and case.assignee_body_id in actor.body_ids)


def _is_destination(actor: Actor, case: CaseFacts | None) -> bool:
    return case is not None and case.transfer_destination_body_id in actor.body_ids


def _reader(actor: Actor, _case: CaseFacts | None) -> bool:
    return actor.role in _READERS


def _handler(actor: Actor, case: CaseFacts | None) -> bool:
    return actor.role in _READERS and actor.role is not Role.LEADER and _is_handler(actor, case)


def _reply(actor: Actor, case: CaseFacts | None) -> bool:
    return _handler(actor, case) or (actor.role is Role.MEMBER and _is_destination(actor, case))


_DECISIONS: Mapping[Rule, Callable[[Actor, CaseFacts | None], bool]] = {
    Rule.PUBLIC: lambda _a, _c: True,
    Rule.SIGNED_IN: lambda _a, _c: True,
    Rule.ACCOUNT: lambda _a, _c: True,
    Rule.LIST_CASES: _reader,
    Rule.READ_CASE: _reader,
    Rule.TRIAGE: _handler,
    Rule.REPLY: _reply,
    Rule.NOTE: lambda a, _c: a.role in (Role.ADMIN, Role.MEMBER),
    Rule.PROPOSE_TRANSFER: _handler,
    Rule.DECIDE_TRANSFER: lambda a, _c: a.is_office,
    Rule.FEEDBACK: lambda a, c: a.role is Role.MEMBER and _is_destination(a, c),
    Rule.CLOSE: _handler,
    Rule.VIEW_AUDIT: lambda a, _c: a.is_office or a.role is Role.LEADER,
    Rule.OVERSIGHT: lambda a, _c: a.is_office or a.role is Role.LEADER,
    Rule.ENTER_REPORT: lambda a, _c: a.role in (Role.OPERATOR, Role.ADMIN),
    Rule.ADMINISTER: lambda a, _c: a.is_office,
    Rule.RECOVER_WITH_ESCROW: lambda a, _c: a.role is Role.ADMIN and a.is_office,
}

# Rules decided per case: the endpoint loads CaseFacts and asks again with them.
CASE_RULES = frozenset(
    {
        Rule.READ_CASE,
        Rule.TRIAGE,
        Rule.REPLY,
        Rule.NOTE,
        Rule.PROPOSE_TRANSFER,
        Rule.DECIDE_TRANSFER,
        Rule.FEEDBACK,
        Rule.CLOSE,
    }
)


def allows(actor: Actor | None, rule: Rule, case: CaseFacts | None = None) -> bool:
    """May ``actor`` (``None``: not signed in) act under ``rule`` (on ``case``)?

    For a case rule called without ``case``, the answer is whether the role could ever
    qualify (used to hide links and to refuse early); the endpoint asks again with the case.
    """
    if rule is Rule.PUBLIC:
        return True
    if actor is None:
        return False
    if not actor.enrolled and rule is not Rule.SIGNED_IN:
        return False
    if rule in CASE_RULES and case is None:
        return _could_ever(actor, rule)
    return _DECISIONS[rule](actor, case)


def _could_ever(actor: Actor, rule: Rule) -> bool:
    if rule in (Rule.TRIAGE, Rule.PROPOSE_TRANSFER, Rule.CLOSE, Rule.REPLY):
        return actor.is_office or actor.role is Role.MEMBER
    if rule is Rule.FEEDBACK:
        return actor.role is Role.MEMBER
    return _DECISIONS[rule](actor, None)


@dataclass(frozen=True)
class Permissions:
    """What the console shows for one case: each action's yes or no, for templates."""

    granted: frozenset[Rule] = field(default_factory=frozenset)

    def __contains__(self, rule: object) -> bool:
        return rule in self.granted


def case_permissions(actor: Actor, case: CaseFacts) -> Permissions:
    return Permissions(frozenset(rule for rule in CASE_RULES if allows(actor, rule, case)))
