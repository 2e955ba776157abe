"""Every role x every staff endpoint (SPEC §1): who may see and do what.

Roles: 巡察办 admin (xcb), the assignee 巡察组 (group1), another 巡察组 (group2), the 移交
destination 县纪委 (jw), another destination 组织部 (zzb), 领导小组 (leader), the hotline
operator (hotline) and an anonymous visitor. Each mutating call gets a fresh case in the state
the action needs, so one row's success cannot hide another row's refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from admin import views_audit, views_auth, views_cases_api, views_console, views_oversight
from admin.app import create_app
from admin.web import rule_of
from core.runtime import Runtime
from tests.admin.case_support import submit
from tests.admin.conftest import BASE_URL, Login
from tests.conftest import BACKENDS, make_settings

ON_BOTH_BACKENDS = pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)

ROLES = ("xcb", "group1", "group2", "jw", "zzb", "leader", "hotline", None)
TRIAGE = {
    "categories": ["integrity"],
    "primary": "integrity",
    "problem_type": "violation_lead",
    "destination": "county_discipline_commission",
    "reason": "核实后确认",
}
TRANSFER = {"destination": "county_discipline_commission", "note": "请核查"}


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # {id} and {aid} are filled in
    state: str  # received | triaged | proposed | transferred | inspector
    expected: tuple[int, ...]  # one status per role, in ROLES order
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    fresh: bool = True  # needs its own case (the call changes it)


def _row(method: str, path: str, state: str, codes: str, **kw: Any) -> Row:
    return Row(method, path, state, tuple(int(c) for c in codes.split()), **kw)


API = "/api/v1/cases/{id}"
HTML = "/cases/{id}"
#                                              xcb group1 group2 jw  zzb leader hotline anon
ROWS = [
    _row("GET", "/api/v1/cases", "received", "200 200 200 200 200 200 403 401", fresh=False),
    _row("GET", API, "received", "200 200 404 404 404 404 403 401", fresh=False),
    _row("GET", API, "transferred", "200 200 404 200 404 404 403 401", fresh=False),
    _row("GET", API, "inspector", "200 404 404 404 404 200 403 401", fresh=False),
    _row(
        "GET",
        API + "/attachments/{aid}",
        "received",
        "200 200 404 404 404 404 403 401",
        fresh=False,
    ),
    _row(
        "POST",
        API + "/messages",
        "received",
        "201 201 404 404 404 403 403 401",
        json={"text": "您好"},
    ),
    _row(
        "POST",
        API + "/messages",
        "transferred",
        "201 201 404 201 404 403 403 401",
        json={"text": "您好"},
    ),
    _row("POST", API + "/triage", "received", "200 200 404 404 404 403 403 401", json=TRIAGE),
    _row("POST", API + "/transfer", "received", "200 200 404 404 404 403 403 401", json=TRANSFER),
    _row("POST", API + "/transfer/approve", "proposed", "200 403 403 403 403 403 403 401"),
    _row(
        "POST",
        API + "/transfer/reject",
        "proposed",
        "200 403 403 403 403 403 403 401",
        json={"reason": "不同意"},
    ),
    _row(
        "POST",
        API + "/feedback",
        "transferred",
        "403 403 404 200 404 403 403 401",
        json={"text": "已办结"},
    ),
    _row("POST", API + "/close", "triaged", "200 200 404 404 404 403 403 401"),
    _row("GET", "/", "received", "200 200 200 200 200 200 403 303", fresh=False),
    _row("GET", HTML, "received", "200 200 404 404 404 404 403 303", fresh=False),
    _row("GET", "/audit", "received", "200 403 403 403 403 200 403 303", fresh=False),
    _row("GET", "/oversight", "received", "200 403 403 403 403 200 403 303", fresh=False),
    _row("GET", "/account", "received", "200 200 200 200 200 200 200 303", fresh=False),
    _row("GET", "/account/totp", "received", "200 200 200 200 200 200 200 303", fresh=False),
    _row(
        "POST",
        "/account/totp",
        "received",
        "422 422 422 422 422 422 422 303",
        form={"pending": "x", "code": "1"},
        fresh=False,
    ),
    _row(
        "POST",
        "/account/password",
        "received",
        "422 422 422 422 422 422 422 303",
        form={"current": "x", "new": "a", "confirm": "b"},
        fresh=False,
    ),
    _row("GET", "/login", "received", "303 303 303 303 303 303 303 200", fresh=False),
    _row(
        "POST",
        "/login",
        "received",
        "401 401 401 401 401 401 401 401",
        form={"username": "nobody", "password": "wrong"},
        fresh=False,
    ),
    _row(
        "POST",
        "/api/v1/session",
        "received",
        "401 401 401 401 401 401 401 401",
        json={"username": "nobody", "password": "wrong"},
        fresh=False,
    ),
    _row("GET", "/healthz", "received", "200 200 200 200 200 200 200 200", fresh=False),
    # Password recovery with the recovery code is public; its form carries its own CSRF token
    # (cookie + signed nonce), so a session's token is refused there.
    _row("GET", "/recover", "received", "303 303 303 303 303 303 303 200", fresh=False),
    _row(
        "POST",
        "/recover",
        "received",
        "403 403 403 403 403 403 403 403",
        form={"username": "nobody", "code": "x", "password": "p", "password_again": "p"},
        fresh=False,
    ),
    # Escrow recovery: administrators only (not every member of the office body). Without a
    # key file the administrator's call is refused as invalid input and changes nothing.
    _row(
        "GET",
        "/admin/users/group3/recover",
        "received",
        "200 403 403 403 403 403 403 303",
        fresh=False,
    ),
    _row(
        "POST",
        "/admin/users/group3/recover",
        "received",
        "422 403 403 403 403 403 403 303",
        form={},
        fresh=False,
    ),
    _row(
        "POST",
        HTML + "/messages",
        "received",
        "303 303 404 404 404 403 403 303",
        form={"text": "您好"},
    ),
    _row(
        "POST",
        HTML + "/notes",
        "received",
        "303 303 404 404 404 403 403 303",
        form={"text": "备注"},
    ),
    _row(
        "POST",
        HTML + "/triage",
        "received",
        "303 303 404 404 404 403 403 303",
        form={**TRIAGE, "categories": "integrity"},
    ),
    _row("POST", HTML + "/transfer", "received", "303 303 404 404 404 403 403 303", form=TRANSFER),
    _row(
        "POST", HTML + "/transfer/approve", "proposed", "303 403 403 403 403 403 403 303", form={}
    ),
    _row(
        "POST",
        HTML + "/transfer/reject",
        "proposed",
        "303 403 403 403 403 403 403 303",
        form={"reason": "不同意"},
    ),
    _row(
        "POST",
        HTML + "/feedback",
        "transferred",
        "403 403 404 303 404 403 403 303",
        form={"text": "已办结"},
    ),
    _row(
        "POST",
        HTML + "/close",
        "triaged",
        "303 303 404 404 404 403 403 303",
        form={"outcome": "closed"},
    ),
    # Signing out last: it ends the session of the client that calls it (then /logout only
    # redirects to the login page).
    _row("DELETE", "/api/v1/session", "received", "204 204 204 204 204 204 204 401", fresh=False),
    _row("POST", "/logout", "received", "303 303 303 303 303 303 303 303", form={}, fresh=False),
]

MY_MODULES = (views_auth, views_cases_api, views_console, views_audit, views_oversight)


def test_every_route_names_a_rule(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    for route in app.routes:
        # The PBX endpoints (intake/) are machine calls authenticated by an HMAC per PBX, not
        # by a staff session; everything else must name its rule.
        if isinstance(route, Route) and not route.endpoint.__module__.startswith("intake."):
            assert rule_of(route.endpoint) is not None, route.path


def test_the_matrix_covers_every_console_endpoint() -> None:
    covered = {
        (r.method, r.path.replace("{id}", "{case_id:str}").replace("{aid}", "{attachment_id:str}"))
        for r in ROWS
    }
    for module in MY_MODULES:
        for route in module.routes:
            assert isinstance(route, Route)
            for method in route.methods or ():
                if method != "HEAD":
                    assert (method, route.path) in covered, (method, route.path)


Advance = Callable[[str], Awaitable[None]]


async def _case_in(state: str, runtime: Runtime, office: httpx.AsyncClient) -> str:
    case_id, _ = await submit(runtime, attachment=b"\xff\xd8photo")
    if state in ("triaged", "proposed", "transferred"):
        assert (
            await office.post(f"/api/v1/cases/{case_id}/triage", json=TRIAGE)
        ).status_code == 200
    if state in ("proposed", "transferred"):
        assert (
            await office.post(f"/api/v1/cases/{case_id}/transfer", json=TRANSFER)
        ).status_code == 200
    if state == "transferred":
        assert (await office.post(f"/api/v1/cases/{case_id}/transfer/approve")).status_code == 200
    if state == "inspector":
        body = {
            **TRIAGE,
            "problem_type": "inspector_misconduct",
            "destination": "inspection_office",
        }
        assert (await office.post(f"/api/v1/cases/{case_id}/triage", json=body)).status_code == 200
    return case_id


@pytest.mark.anyio
@ON_BOTH_BACKENDS
async def test_every_role_on_every_endpoint(
    login: Login, demo_runtime: Runtime, staff_app: Starlette
) -> None:
    office = await login("xcb")
    shared: dict[str, str] = {}
    failures = []
    for index, role in enumerate(ROLES):
        http = (
            await login(role)
            if role
            else httpx.AsyncClient(transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL)
        )
        try:
            for row in ROWS:
                if row.fresh:
                    case_id = await _case_in(row.state, demo_runtime, office)
                else:
                    if row.state not in shared:
                        shared[row.state] = await _case_in(row.state, demo_runtime, office)
                    case_id = shared[row.state]
                status = await _call(http, row, case_id, office, f"nobody{index}")
                if status != row.expected[index]:
                    failures.append(
                        (role, row.method, row.path, row.state, status, row.expected[index])
                    )
        finally:
            if role is None:
                await http.aclose()
    assert failures == [], "\n".join(map(str, failures))


async def _call(
    http: httpx.AsyncClient, row: Row, case_id: str, office: httpx.AsyncClient, stranger: str
) -> int:
    """One call; unknown-user logins use a name per role (each name has its own throttle)."""
    path = row.path.replace("{id}", case_id)
    if "{aid}" in path:
        detail = (await office.get(f"/api/v1/cases/{case_id}")).json()
        path = path.replace("{aid}", detail["attachments"][0]["id"])
    if row.form is not None:
        data = {**row.form, "csrf": http.headers.get("x-csrf-token", "")}
        data = {k: stranger if v == "nobody" else v for k, v in data.items()}
        response = await http.request(row.method, path, data=data)
    elif row.json is not None:
        body = {k: stranger if v == "nobody" else v for k, v in row.json.items()}
        response = await http.request(row.method, path, json=body)
    else:
        response = await http.request(row.method, path)
    return response.status_code
