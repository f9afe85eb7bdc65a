"""Issue #10 items 5 and 8: who a sweep tells (active posts only), and what a sweep does with a row it cannot
process (a real database error in one row): that row is rolled back alone, logged without personal data and
counted; the rest of the batch goes on; after ``MAX_ATTEMPTS`` failed runs the row is left alone."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine

from linli.cases import feedback, services, sweeps
from linli.cases.choices import ALERT_NONE, ALERT_YELLOW
from linli.cases.models import Case, CaseEvent, Supervision, SweepFailure
from linli.cases.tests.conftest import at
from linli.core.crypto import FieldCipher
from linli.notifications.models import Message
from linli.testing.factories import PostFactory

pytestmark = pytest.mark.django_db

CREATED = at(2025, 11, 24, 10, 0)  # Monday; 公共设施报修: accept due Tuesday 17:30
ACCEPT_SOON = at(2025, 11, 25, 14, 48)
ACCEPT_DUE = at(2025, 11, 25, 17, 30)


def _assigned(world, make_case, *, minutes: int = 0, **kwargs) -> Case:
    with time_machine.travel(CREATED + dt.timedelta(minutes=minutes), tick=False):
        case = make_case(grid=world.g2, category="property_repair", **kwargs)
        return services.transition(
            case=case,
            action="assign",
            actor=None,
            version=case.version,
            handler_user=world.users["grid_worker"],
            handling_level="grid",
        )


def test_notices_reach_only_posts_in_force_that_day(world, make_case):
    case = _assigned(world, make_case)
    late = ACCEPT_DUE + dt.timedelta(minutes=1)
    today = late.astimezone(at(2025, 1, 1).tzinfo).date()
    starts_tomorrow = PostFactory(kind="secretary", region=world.c2, started_on=today + dt.timedelta(days=1))
    ended = PostFactory(kind="secretary", region=world.c2, started_on=dt.date(2024, 1, 1), ended_on=today)
    assert sweeps.escalate_overdue(late) == 1
    (notice,) = Supervision.objects.filter(case=case, level="red")
    assert world.users["secretary"].pk in notice.notified_user_ids
    assert starts_tomorrow.user_id not in notice.notified_user_ids
    assert ended.user_id not in notice.notified_user_ids
    told = set(
        Message.objects.filter(payload__case=case.pk, payload__has_key="step").values_list(
            "recipient", flat=True
        )
    )
    assert not told & {starts_tomorrow.user_id, ended.user_id}


def _poison(world, make_case) -> Case:
    """A case whose accept deadline was lost (NULL) while its 80 % mark is set: the yellow notice row cannot be
    written (``Supervision.due_at`` is NOT NULL) — a real IntegrityError from the database."""
    case = _assigned(world, make_case, reporter_name="王芳", reporter_phone="13812345678")
    Case.objects.filter(pk=case.pk).update(
        accept_due_at=None, accept_soon_at=ACCEPT_SOON - dt.timedelta(hours=1)
    )
    return case


def test_a_poison_row_is_isolated_counted_and_given_up_on(world, make_case, caplog):
    poison = _poison(world, make_case)
    healthy = _assigned(world, make_case, minutes=1)
    events = CaseEvent.objects.filter(case=poison).count()
    with caplog.at_level(logging.ERROR, logger="linli.cases.sweeps"):
        assert sweeps.mark_due_soon(ACCEPT_SOON + dt.timedelta(minutes=5)) == 1  # the healthy one, behind it
    assert Case.objects.get(pk=healthy.pk).accept_alert == ALERT_YELLOW
    assert Supervision.objects.filter(case=healthy).count() == 1
    # The poison row's work was rolled back whole: no mark, no notice, no timeline entry.
    fresh = Case.objects.get(pk=poison.pk)
    assert (fresh.accept_alert, fresh.version) == (ALERT_NONE, poison.version)
    assert not Supervision.objects.filter(case=poison).exists()
    assert CaseEvent.objects.filter(case=poison).count() == events
    (failure,) = SweepFailure.objects.all()
    assert (failure.sweep, failure.row_id, failure.attempts) == ("due_soon:accept", poison.pk, 1)
    assert failure.error.startswith("IntegrityError")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"row {poison.pk} failed (IntegrityError" in logged
    for personal in ("王芳", "13812345678", poison.title, poison.reporter_phone_cipher):
        assert personal not in logged

    # Retried on later runs, never more than MAX_ATTEMPTS times; then left alone.
    for run in range(2, sweeps.MAX_ATTEMPTS + 3):
        assert sweeps.mark_due_soon(ACCEPT_SOON + dt.timedelta(minutes=5 + run)) == 0
    assert SweepFailure.objects.get().attempts == sweeps.MAX_ATTEMPTS

    # An operator repairs the row and deletes its failure record: the next run marks it.
    Case.objects.filter(pk=poison.pk).update(accept_due_at=ACCEPT_DUE)
    SweepFailure.objects.all().delete()
    assert sweeps.mark_due_soon(ACCEPT_SOON + dt.timedelta(minutes=30)) == 1
    assert Case.objects.get(pk=poison.pk).accept_alert == ALERT_YELLOW


def test_a_row_that_succeeds_after_failing_clears_its_failure(world, make_case):
    poison = _poison(world, make_case)
    assert sweeps.mark_due_soon(ACCEPT_SOON) == 0
    assert SweepFailure.objects.get().attempts == 1
    Case.objects.filter(pk=poison.pk).update(accept_due_at=ACCEPT_DUE)  # repaired before the give-up
    assert sweeps.mark_due_soon(ACCEPT_SOON + dt.timedelta(minutes=1)) == 1
    assert not SweepFailure.objects.exists()


def test_an_undecryptable_merged_reporter_is_logged_counted_and_skipped(world, make_case, caplog):
    target = make_case(grid=world.g1a)
    readable = make_case(grid=world.g1a, reporter_phone="13900002222")
    broken = make_case(grid=world.g1a, reporter_name="李雷", reporter_phone="13812345678")
    # Written under another data key (restored from another installation): decryption really fails.
    foreign = FieldCipher("another-installation-key").encrypt("13812345678")
    Case.objects.filter(pk=broken.pk).update(reporter_phone_cipher=foreign)
    for dup in (readable, broken):
        services.transition(case=dup, action="merge", actor=None, version=1, into=target)
    target = Case.objects.get(pk=target.pk)
    with caplog.at_level(logging.ERROR, logger="linli.cases.feedback"):
        assert feedback.tell_merged_reporters(target) == 1
    assert list(
        Message.objects.filter(channel="sms", payload__has_key="target").values_list(
            "payload__case", flat=True
        )
    ) == [readable.pk]
    (record,) = [r for r in caplog.records if r.name == "linli.cases.feedback"]
    text = record.getMessage()
    assert f"cases {broken.pk}" in text and "1 merged reporter" in text
    for personal in ("李雷", "13812345678", foreign):
        assert personal not in text
