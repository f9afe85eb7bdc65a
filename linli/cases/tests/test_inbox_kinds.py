"""Every inbox message the appeals loop writes names its kind and the object it is about, so the message centre can
label, filter and link it (issue #12 item 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import reverse

from linli.cases import extensions, services, whistles
from linli.cases.models import Case
from linli.notifications import inbox
from linli.notifications.models import Message

ROOT = Path(__file__).resolve().parents[2]  # the linli package


def _inbox_channel(call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg == "channel":
            value = kw.value
            if isinstance(value, ast.Constant):
                return value.value == "inbox"
            return isinstance(value, ast.Attribute) and value.attr == "INBOX"
    return False


def _dict_has_kind(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value == "kind" for k in node.keys
    )


def _payload_has_kind(call: ast.Call, function: ast.AST) -> bool:
    payload = next((kw.value for kw in call.keywords if kw.arg == "payload"), None)
    if _dict_has_kind(payload):
        return True
    if isinstance(payload, ast.Name):  # a variable: its assignment in the same function
        return any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == payload.id for t in node.targets)
            and _dict_has_kind(node.value)
            for node in ast.walk(function)
        )
    return False


def inbox_call_sites() -> list[tuple[str, int, bool]]:
    """(file, line, names a kind) of every ``notify(channel=inbox, …)`` outside the tests."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts or path.parent.name == "notifications":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(function):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "notify"
                    and _inbox_channel(call)
                ):
                    found.append(
                        (str(path.relative_to(ROOT)), call.lineno, _payload_has_kind(call, function))
                    )
    return found


def test_every_inbox_call_site_names_a_kind():
    sites = inbox_call_sites()
    assert len(sites) >= 10  # the call sites of the loop, the whistles, the sweeps, emergencies and hotspots
    missing = [f"{file}:{line}" for file, line, has_kind in sites if not has_kind]
    assert missing == []


# --- the messages as written --------------------------------------------------------------------------------------


def _messages(user, kind: str) -> list[Message]:
    return list(Message.objects.filter(channel="inbox", recipient=user, payload__kind=kind))


@pytest.mark.django_db
def test_assign_and_reopen_name_their_kind_and_link_to_the_case(world, make_case):
    worker = world.users["grid_worker"]
    case = make_case(grid=world.g1a)
    case = services.transition(
        case=case, action="assign", actor=None, version=case.version, handler_user=worker
    )
    [assigned] = _messages(worker, "assign")
    assert inbox.item(assigned).link == reverse("console:case", args=[case.pk])
    assert inbox.item(assigned, "phone").link == reverse("mobile:grid_case", args=[case.pk])
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    case = services.transition(case=case, action="resolve", actor=worker, version=case.version, note="已处理")
    services.transition(case=case, action="reopen", actor=None, version=case.version, note="居民不满意")
    [reopened] = _messages(worker, "reopen")
    assert inbox.item(reopened).kind_label == "重新办理" and inbox.target_of(reopened) == inbox.Target(
        "case", case.pk
    )


@pytest.mark.django_db
def test_whistle_and_extension_name_their_kind(world, make_case, depts):
    worker = world.users["grid_worker"]
    case = make_case(grid=world.g1a, category="flying_wire")
    whistles.whistle(
        case=case,
        departments=[depts["zhujian"]],
        actor=world.users["community_worker"],
        reason="飞线充电屡禁不止，需住建联合整治",
    )
    [called] = _messages(world.users["department_handler"], "whistle")
    assert inbox.target_of(called) == inbox.Target("case", case.pk)

    other = make_case(grid=world.g1a)
    other = services.transition(
        case=other,
        action="assign",
        actor=None,
        version=other.version,
        handler_user=worker,
        handling_level="grid",
    )
    other = services.transition(case=other, action="accept", actor=worker, version=other.version)
    extensions.request_extension(
        case=Case.objects.get(pk=other.pk),
        actor=worker,
        amount=2,
        unit="working_days",
        reason="需等待配件到货",
    )
    asked = Message.objects.filter(channel="inbox", payload__kind="extension")
    assert asked.exists() and all(inbox.target_of(m) == inbox.Target("case", other.pk) for m in asked)
    assert {str(inbox.item(m).kind_label) for m in asked} == {"延期申请"}
