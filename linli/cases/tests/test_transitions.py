"""The state machine, table-driven from choices.py: every action from every status is either the one allowed
move or a TransitionNotAllowed that writes nothing."""

from __future__ import annotations

import itertools

import pytest

from linli.cases import services
from linli.cases.choices import ACTIONS, ALLOWED, TERMINAL, Action, Status
from linli.cases.models import Case, CaseEvent
from linli.cases.services import TransitionNotAllowed
from linli.core.errors import ConflictError, LinliError

pytestmark = pytest.mark.django_db


def _inputs(action: str, world, other: Case) -> dict:
    return {
        Action.ASSIGN: {"handler_user": world.users["grid_worker"]},
        Action.PAUSE: {"note": "等待居民配合"},
        Action.RESOLVE: {"note": "已清理完毕"},
        Action.REJECT: {"note": "不属于受理范围"},
        Action.CONFIRM: {"satisfaction": "satisfied"},
        Action.MERGE: {"into": other},
    }.get(action, {})


def _force(case: Case, status: str) -> Case:
    """Test set-up only: put a case straight into ``status``."""
    extra = {"paused_at": case.created_at} if status == Status.PAUSED else {}
    Case.objects.filter(pk=case.pk).update(status=status, **extra)
    case.refresh_from_db()
    return case


def test_allowed_table_is_derived_from_actions():
    for status in Status.values:
        assert ALLOWED[status] == {m.target for m in ACTIONS.values() if status in m.sources}
    for status in TERMINAL:
        assert ALLOWED[status] == frozenset()


@pytest.mark.parametrize(("action", "status"), list(itertools.product(Action.values, Status.values)))
def test_every_action_from_every_status(world, make_case, action, status):
    other = make_case(grid=world.g1a)
    case = _force(make_case(), status)
    events = CaseEvent.objects.filter(case=case).count()
    # Undoing an automatic triage also needs one (linli/triage/tests/test_auto_route.py); refused here.
    allowed = status in ACTIONS[action].sources and action != Action.UNDO_AUTO_TRIAGE
    if allowed:
        done = services.transition(
            case=case, action=action, actor=None, version=case.version, **_inputs(action, world, other)
        )
        assert done.status == ACTIONS[action].target
        assert done.version == 2
        event = CaseEvent.objects.filter(case=case).latest("id")
        assert (event.kind, event.from_status, event.to_status) == (action, status, done.status)
    else:
        with pytest.raises(TransitionNotAllowed):
            services.transition(
                case=case, action=action, actor=None, version=case.version, **_inputs(action, world, other)
            )
        fresh = Case.objects.get(pk=case.pk)
        assert (fresh.status, fresh.version) == (status, 1)
        assert CaseEvent.objects.filter(case=case).count() == events


def test_stale_version_conflicts_and_writes_nothing(make_case):
    case = make_case()
    with pytest.raises(ConflictError, match="已被他人处理"):
        services.transition(case=case, action="triage", actor=None, version=7)
    assert CaseEvent.objects.filter(case=case).count() == 1  # the create event only


def test_stale_object_conflicts_at_the_conditional_update(make_case):
    case = make_case()
    stale = Case.objects.get(pk=case.pk)
    services.transition(case=case, action="reject", actor=None, version=1, note="重复提交")
    with pytest.raises(ConflictError):
        services.transition(case=stale, action="triage", actor=None, version=1)
    assert Case.objects.get(pk=case.pk).status == Status.REJECTED


def test_required_inputs(world, make_case):
    case = make_case()
    with pytest.raises(LinliError, match="理由"):
        services.transition(case=case, action="reject", actor=None, version=1)
    case = _force(case, Status.IN_PROGRESS)
    with pytest.raises(LinliError, match="办理结果"):
        services.transition(case=case, action="resolve", actor=None, version=1)
    with pytest.raises(LinliError, match="暂停原因"):
        services.transition(case=case, action="pause", actor=None, version=1)
    case = _force(case, Status.RESOLVED)
    with pytest.raises(LinliError, match="回访结果"):
        services.transition(case=case, action="confirm", actor=None, version=1, satisfaction="great")
    assert Case.objects.get(pk=case.pk).version == 1


def test_whole_loop_with_reopen_counts_rework(world, make_case):
    worker = world.users["grid_worker"]
    case = make_case()
    steps = [
        ("triage", {}),
        ("assign", {"handler_user": worker}),
        ("accept", {}),
        ("start", {}),
        ("resolve", {"note": "已调解"}),
        ("request_callback", {}),
        ("confirm", {"satisfaction": "unsatisfied", "note": "问题仍在"}),
    ]
    for action, data in steps:
        case = services.transition(case=case, action=action, actor=None, version=case.version, **data)
    assert case.status == Status.ASSIGNED and case.reopened_count == 1
    assert (
        case.satisfaction == "unsatisfied" and case.handler_user == worker
    )  # the reopen reaches the handler
    assert case.accepted_at is None and case.resolved_at is None
    assert case.accept_overdue is False and case.resolve_overdue is False  # frozen from the first round
    for action, data in [*steps[2:6], ("confirm", {"satisfaction": "satisfied"})]:
        case = services.transition(case=case, action=action, actor=None, version=case.version, **data)
    assert case.status == Status.CLOSED and case.satisfaction == "satisfied" and case.reopened_count == 1
    kinds = list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
    assert kinds.count("reopen") == 1 and kinds[0] == "create" and kinds[-1] == "confirm"


def test_close_no_response_records_no_response(make_case):
    case = _force(make_case(), Status.AWAITING_CALLBACK)
    case = services.transition(case=case, action="close_no_response", actor=None, version=1)
    assert case.status == Status.CLOSED and case.satisfaction == "no_response"


def test_merge_records_on_both_cases(make_case):
    target, dup = make_case(), make_case()
    dup = services.transition(case=dup, action="merge", actor=None, version=1, into=target)
    assert dup.status == Status.MERGED and dup.merged_into == target
    assert CaseEvent.objects.filter(case=target, kind="merged_in", data__number=dup.number).exists()
    with pytest.raises(LinliError, match="自身"):
        services.transition(case=target, action="merge", actor=None, version=1, into=target)
    other = make_case()
    with pytest.raises(LinliError, match="已合并"):
        services.transition(case=other, action="merge", actor=None, version=1, into=dup)


def test_triage_override_needs_a_reason_and_keeps_the_clock_start(world, make_case, categories, depts):
    case = make_case(category="neighbour_dispute")
    assert case.handling_level == "community" and case.handler_department is None
    with pytest.raises(LinliError, match="理由"):
        services.transition(case=case, action="triage", actor=None, version=1, handling_level="street")
    case = services.transition(
        case=case, action="triage", actor=None, version=1, category=categories["manhole"]
    )
    # manhole: department level, chengguan of the county, accept within 2 working hours of the report
    assert case.handling_level == "department" and case.handler_department == depts["chengguan"]
    event = CaseEvent.objects.filter(case=case, kind="triage").get()
    assert event.data["previous_category"] == "neighbour_dispute"
    assert case.accept_due_at < case.resolve_due_at
