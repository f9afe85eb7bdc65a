"""The "my queue" filter agrees with the home counts; the reporter reveal is a logged service."""

from __future__ import annotations

import pytest

from linli.audit.models import AccessLog
from linli.cases import selectors, services
from linli.cases.selectors import CaseFilter
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access
from linli.org.access import Cap


def test_mine_filter_lists_exactly_what_my_queue_counts(world, make_case):
    handler = world.users["department_handler"]
    routed = make_case(grid=world.g3, category="road_damage")  # routed to 住建, nobody has taken it
    taken = make_case(grid=world.g3, category="road_damage")
    services.transition(
        case=taken,
        action="assign",
        actor=None,
        version=taken.version,
        handler_user=world.users["county_admin"],
    )
    make_case(grid=world.g1a)  # not the department's
    scope = access.scope_for(handler, Cap.CASE_VIEW)
    listed = selectors.case_list_for(scope, CaseFilter(mine=handler))
    assert [c.pk for c in listed] == [routed.pk]
    assert selectors.my_queue(handler).open == len(listed) == 1
    # the county admin's queue holds the case assigned to them, not the department's untaken one
    admin = world.users["county_admin"]
    mine = selectors.case_list_for(access.scope_for(admin, Cap.CASE_VIEW), CaseFilter(mine=admin))
    assert [c.pk for c in mine] == [taken.pk]


def test_overdue_filter_counts_a_submitted_case_past_its_accept_deadline(world, make_case, categories):
    import datetime as dt

    import time_machine

    case = make_case(category="gas_leak")  # accept within 1 calendar hour
    scope = access.scope_for(world.users["community_worker"], Cap.CASE_VIEW)
    assert selectors.case_list_for(scope, CaseFilter(overdue=True)) == []
    with time_machine.travel(case.accept_due_at + dt.timedelta(minutes=1)):
        assert [c.pk for c in selectors.case_list_for(scope, CaseFilter(overdue=True))] == [case.pk]


def test_reveal_is_logged_and_needs_permission_and_a_reason(world, make_case):
    case = make_case(reporter_name="王秀兰", reporter_phone="13912345678")
    worker = world.users["community_worker"]
    with pytest.raises(LinliError) as err:
        services.case_reveal(case=case, actor=worker, field="phone", reason=" ")
    assert err.value.field == "reason"
    with pytest.raises(PermissionDenied):
        services.case_reveal(case=case, actor=world.users["grid_worker"], field="phone", reason="回访核实")
    assert not AccessLog.objects.exists()
    value = services.case_reveal(case=case, actor=worker, field="phone", reason="电话回访", ip="10.0.0.1")
    assert value == "13912345678"
    log = AccessLog.objects.get()
    assert (log.actor, log.field, log.reason, log.entity_id) == (
        worker,
        "reporter_phone",
        "电话回访",
        case.pk,
    )


def test_anonymous_case_has_nothing_to_reveal(world, make_case):
    case = make_case(anonymous=True)
    with pytest.raises(PermissionDenied):
        services.case_reveal(case=case, actor=world.users["county_admin"], field="phone", reason="核实身份")
    assert not AccessLog.objects.exists()


def test_default_title_is_a_clause_or_cut_with_an_ellipsis():
    assert services.default_title("楼道灯不亮") == "楼道灯不亮"
    assert (
        services.default_title("三楼到六楼楼道灯全部不亮，晚上上下楼看不见台阶，老人摔过一次。")
        == "三楼到六楼楼道灯全部不亮"
    )
    long = "小区东门外的垃圾桶已经连续好几天都没有人来清运了气味非常大还招来很多苍蝇影响居民出行"
    title = services.default_title(long)
    assert len(title) == 30 and title.endswith("…") and long.startswith(title[:-1])


def test_console_timeline_names_the_reporter_not_the_system(world, make_case):
    from linli.cases.models import CaseEvent

    case = make_case(channel="qr_resident")
    create = CaseEvent.objects.get(case=case)
    assert selectors.actorless_label(case, create) == "群众反映"
    staff = make_case(channel="staff_hotline")
    assert selectors.actorless_label(staff, CaseEvent.objects.get(case=staff)) == "系统"


def test_reserved_numbers_are_never_handed_out_again(world, make_case):
    from linli.cases import numbering

    first = make_case()
    block = numbering.reserve(5)
    after = make_case()
    n = lambda case: int(case.number.rsplit("-", 1)[1])  # noqa: E731
    assert n(first) < block and n(after) == block + 5


def test_reporter_with_a_mobile_gets_one_receipt_through_the_outbox(world, make_case, settings):
    from linli.core.crypto import cipher
    from linli.notifications.models import Message

    settings.LINLI_PUBLIC_URL = "https://linli.example.cn"
    case = make_case(reporter_name="王秀兰", reporter_phone="13912345678", idempotency_key="k1", client="app")
    again = make_case(
        reporter_name="王秀兰", reporter_phone="13912345678", idempotency_key="k1", client="app"
    )
    assert again.pk == case.pk
    message = Message.objects.get()
    assert message.channel == "sms" and cipher().decrypt(message.address) == "13912345678"
    assert (
        case.number in message.body and f"https://linli.example.cn/m/t/{case.tracking_token}/" in message.body
    )
    make_case(reporter_phone="0530-5551234")  # a landline: no SMS
    make_case(anonymous=True)
    assert Message.objects.count() == 1
