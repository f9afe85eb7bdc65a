"""Merged cases: their reporters get the outcome (SMS with their own tracking link) and answer the callback; an
unsatisfied answer reopens the target; the target's closing reaches the merged cases' timelines."""

from __future__ import annotations

import pytest

from linli.cases import feedback, services
from linli.cases.models import Case, CaseEvent, Feedback
from linli.cases.services import TransitionNotAllowed
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError, NotFound
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(world, make_case):
    """A target in g1a handled by the grid worker, and three duplicates merged into it: one with a phone, one
    anonymous, one merged into a duplicate that was merged itself."""
    target = make_case(grid=world.g1a)
    with_phone = make_case(grid=world.g1a, reporter_name="王芳", reporter_phone="13812345678")
    anonymous = make_case(grid=world.g1a, anonymous=True)
    chained = make_case(grid=world.g1a, reporter_phone="13900002222")
    middle = make_case(grid=world.g1a)
    chained = services.transition(case=chained, action="merge", actor=None, version=1, into=middle)
    for dup in (with_phone, anonymous, middle):
        services.transition(case=dup, action="merge", actor=None, version=1, into=target)
    return {
        "target": target,
        "with_phone": with_phone,
        "anonymous": anonymous,
        "chained": chained,
        "middle": middle,
    }


def _resolve(target, world):
    worker = world.users["grid_worker"]
    case = Case.objects.get(pk=target.pk)
    case = services.transition(
        case=case, action="assign", actor=None, version=case.version, handler_user=worker
    )
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    return services.transition(
        case=case, action="resolve", actor=worker, version=case.version, note="已清理楼道杂物"
    )


def test_resolving_the_target_texts_merged_reporters_their_link(world, merged):
    _resolve(merged["target"], world)
    texts = {m.payload["case"]: m for m in Message.objects.filter(channel="sms")}
    assert set(texts) == {
        merged["with_phone"].pk,
        merged["chained"].pk,
    }  # the anonymous reporter is not contacted
    sms = texts[merged["with_phone"].pk]
    assert sms.address != "13812345678" and cipher().decrypt(sms.address) == "13812345678"
    assert f"/m/t/{merged['with_phone'].tracking_token}/" in sms.body and "已清理楼道杂物" in sms.body
    assert merged["target"].tracking_token not in sms.body


def test_a_merged_reporter_answers_through_their_own_case(world, merged):
    _resolve(merged["target"], world)
    row = feedback.record_feedback(
        source_case=merged["with_phone"], satisfaction="satisfied", note="处理得很快", via="mobile"
    )
    assert (row.case_id, row.source_case_id, row.recorded_by) == (
        merged["target"].pk,
        merged["with_phone"].pk,
        None,
    )
    on_target = CaseEvent.objects.get(case=merged["target"], kind="feedback")
    on_source = CaseEvent.objects.get(case=merged["with_phone"], kind="feedback")
    assert (
        on_target.actor is None
        and on_target.data["satisfaction"] == "satisfied"
        and on_source.note == "处理得很快"
    )
    assert "王芳" not in str(on_target.data) and "13812345678" not in str(on_target.data)
    assert Case.objects.get(pk=merged["target"].pk).status == "resolved"  # a satisfied answer closes nothing
    with pytest.raises(ConflictError):
        feedback.record_feedback(source_case=merged["with_phone"], satisfaction="unsatisfied", via="mobile")
    assert feedback.feedback_for(merged["target"]) == [row]


def test_a_chained_merge_answers_the_final_target(world, merged):
    _resolve(merged["target"], world)
    row = feedback.record_feedback(source_case=merged["chained"], satisfaction="basically", via="mobile")
    assert row.case_id == merged["target"].pk


def test_unsatisfied_merged_reporter_reopens_the_target_as_rework(world, merged):
    _resolve(merged["target"], world)
    feedback.record_feedback(
        source_case=merged["anonymous"], satisfaction="unsatisfied", note="杂物又堆回来了", via="mobile"
    )
    target = Case.objects.get(pk=merged["target"].pk)
    assert (target.status, target.reopened_count, target.satisfaction) == ("assigned", 1, "unsatisfied")
    reopen = CaseEvent.objects.get(case=target, kind="reopen")
    assert merged["anonymous"].number in reopen.note and reopen.actor is None
    assert Message.objects.filter(
        recipient=world.users["grid_worker"], channel="inbox", subject__contains="重新办理"
    ).exists()
    # the target is being handled again: another merged reporter cannot answer until it is resolved again
    with pytest.raises(TransitionNotAllowed):
        feedback.record_feedback(source_case=merged["with_phone"], satisfaction="satisfied", via="mobile")


def test_answer_after_the_target_closed_counts_without_reopening(world, merged):
    target = _resolve(merged["target"], world)
    services.transition(
        case=target, action="confirm", actor=None, version=target.version, satisfaction="satisfied"
    )
    outcomes = CaseEvent.objects.filter(kind="outcome").order_by("case_id")
    assert {e.case_id for e in outcomes} == {
        merged["with_phone"].pk,
        merged["anonymous"].pk,
        merged["middle"].pk,
        merged["chained"].pk,
    }
    assert all("已关闭" in e.note and e.data["satisfaction"] == "satisfied" for e in outcomes)
    feedback.record_feedback(source_case=merged["with_phone"], satisfaction="unsatisfied", via="mobile")
    assert Case.objects.get(pk=target.pk).status == "closed"
    assert Feedback.objects.get(source_case=merged["with_phone"]).satisfaction == "unsatisfied"


def test_staff_record_a_phone_callback_within_their_scope(world, merged):
    _resolve(merged["target"], world)
    with pytest.raises(NotFound):
        feedback.record_feedback(
            source_case=merged["with_phone"],
            satisfaction="satisfied",
            via="phone",
            actor=world.users["secretary"],
        )
    row = feedback.record_feedback(
        source_case=merged["with_phone"],
        satisfaction="satisfied",
        via="phone",
        actor=world.users["community_worker"],
    )
    assert row.recorded_by == world.users["community_worker"] and row.via == "phone"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"satisfaction": "meh"}, "satisfaction"), ({"via": "fax"}, "via"), ({"note": "字" * 1001}, "note")],
)
def test_bad_answers_name_their_field(world, merged, kwargs, field):
    _resolve(merged["target"], world)
    with pytest.raises(LinliError) as caught:
        feedback.record_feedback(
            **({"source_case": merged["with_phone"], "satisfaction": "satisfied", "via": "mobile"} | kwargs)
        )
    assert caught.value.field == field and not Feedback.objects.exists()


def test_not_merged_or_not_resolved_is_refused(world, merged, make_case):
    with pytest.raises(LinliError) as caught:
        feedback.record_feedback(source_case=make_case(), satisfaction="satisfied", via="mobile")
    assert caught.value.field == "source_case"
    with pytest.raises(TransitionNotAllowed):  # the target is still being handled
        feedback.record_feedback(source_case=merged["with_phone"], satisfaction="satisfied", via="mobile")
    assert not Feedback.objects.exists()


def test_tracking_url_uses_the_public_base(settings, make_case):
    case = make_case()
    settings.LINLI_PUBLIC_URL = "https://linli.example.cn/"
    assert feedback.tracking_url(case) == f"https://linli.example.cn/m/t/{case.tracking_token}/"
