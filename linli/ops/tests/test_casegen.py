"""The case generator on a small n: the mix it promises, rows the services and sweeps accept as their own."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from django.db.models import Q
from django.utils import timezone

from linli.cases import services
from linli.cases import sweeps as case_sweeps
from linli.cases.choices import ACCEPT_CLOCK, ALERT_RED, HANDLING, OPEN, TERMINAL
from linli.cases.models import Case, CaseEvent, Category
from linli.cases.selectors import CaseFilter, case_list_for
from linli.core.scope import Scope
from linli.ops.casegen import CaseMix, Weighted, generate_cases, limit_seconds, open_probability
from linli.ops.citygen import generate_city


def _running_due(case: Case) -> dt.datetime | None:
    if case.status in {str(s) for s in ACCEPT_CLOCK}:
        return case.accept_due_at
    if case.status in {str(s) for s in HANDLING}:
        return case.resolve_due_at
    return None


@pytest.fixture
def city(db):
    generate_city(2_000, seed=3)


@pytest.mark.django_db
def test_generated_cases_follow_the_mix(city):
    now = timezone.now()
    result = generate_cases(3_000, seed=4, now=now, mix=CaseMix(open_share=0.2, overdue_share=0.5))
    assert result.cases == 3_000 == Case.objects.count()
    statuses = Counter(Case.objects.values_list("status", flat=True))
    open_count = sum(v for k, v in statuses.items() if k in OPEN)
    assert open_count == result.open
    assert 0.15 < open_count / 3_000 < 0.25
    assert sum(v for k, v in statuses.items() if k in TERMINAL) == 3_000 - open_count
    # ids follow time, and the open cases sit among the newest
    created = list(Case.objects.order_by("id").values_list("created_at", flat=True))
    assert created == sorted(created) and created[-1] <= now
    newest = Case.objects.order_by("-id")[:300]
    assert sum(1 for c in newest if c.is_open) > 200
    # overdue running clocks carry the red mark; the others are due ahead and unmarked red
    for case in Case.objects.filter(status__in=[*ACCEPT_CLOCK, *HANDLING]):
        due = _running_due(case)
        alert = case.accept_alert if case.status in ACCEPT_CLOCK else case.resolve_alert
        assert (due < now) == (alert == ALERT_RED), case.pk
    late = Case.objects.filter(
        Q(status__in=ACCEPT_CLOCK, accept_due_at__lt=now) | Q(status__in=HANDLING, resolve_due_at__lt=now)
    ).count()
    assert late == result.overdue
    # closed cases carry their frozen flags and a satisfaction
    closed = Case.objects.filter(status="closed")
    assert not closed.filter(Q(accept_overdue__isnull=True) | Q(satisfaction="")).exists()
    # numbers are unique and every case has a place in its grid's community
    assert Case.objects.values("number").distinct().count() == 3_000
    assert not Case.objects.exclude(region_code__in=Case.objects.values("grid__region_code")).exists()


@pytest.mark.django_db
def test_the_selector_and_the_services_accept_generated_cases(city):
    generate_cases(1_500, seed=5, mix=CaseMix(open_share=0.3))
    page = case_list_for(Scope(everything=True), CaseFilter(overdue=True))
    assert page and all(c.status in ACCEPT_CLOCK or c.status in HANDLING for c in page)
    # The day counters were raised: a case created now gets a fresh number.
    newest = Case.objects.order_by("-id").first()
    case = services.case_create(
        channel="staff_hotline",
        category=Category.objects.get(code="noise"),
        grid=newest.grid,
        description="楼上装修噪音很大",
    )
    assert Case.objects.filter(number=case.number).count() == 1
    assert case.pk > newest.pk


@pytest.mark.django_db
def test_the_overdue_sweep_escalates_exactly_the_wave(city):
    now = timezone.now()
    start = now + dt.timedelta(hours=1)
    mix = CaseMix(open_share=1.0, overdue_share=0.3, years=0.1, wave=60, wave_start=start, wave_seconds=120)
    result = generate_cases(800, seed=6, now=now, mix=mix)
    wave = [
        c.pk
        for c in Case.objects.all()
        if (d := _running_due(c)) and start <= d <= start + dt.timedelta(seconds=120)
    ]
    assert len(wave) == result.wave > 40
    assert case_sweeps.escalate_overdue(now) == 0  # everything overdue was escalated "before"
    later = start + dt.timedelta(seconds=121)
    came_due = {c.pk for c in Case.objects.all() if (d := _running_due(c)) and now <= d < later}
    assert set(wave) <= came_due
    assert case_sweeps.escalate_overdue(later, budget=60) == len(came_due)
    escalated = set(CaseEvent.objects.filter(kind="escalate").values_list("case_id", flat=True))
    assert escalated == came_due


def test_pure_helpers():
    rng = random.Random(1)
    pick = Weighted(["a", "b"], [1, 3])
    draws = Counter(pick.draw(rng) for _ in range(4000))
    assert 0.7 < draws["b"] / 4000 < 0.8
    with pytest.raises(ValueError):
        Weighted([], [])
    assert limit_seconds(2, "working_days") == pytest.approx(2 * 1.4 * 86400)
    assert limit_seconds(4, "hours") == 4 * 3 * 3600
    assert limit_seconds(24, "calendar_hours") == 24 * 3600
    start, inside, before = open_probability(1_000_000, 0.15)
    expected = (1_000_000 - start) * inside + start * before
    assert expected == pytest.approx(150_000, rel=0.01)
    assert open_probability(100, 1.0) == (0, 1.0, 1.0)
