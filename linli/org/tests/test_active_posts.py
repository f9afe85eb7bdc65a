"""Issue #10 item 5: one definition of an active post (``Post.objects.active``), used by every place that asks."""

from __future__ import annotations

import datetime as dt

import pytest

from linli.org import selectors
from linli.org.models import Post
from linli.testing.factories import DepartmentFactory, PostFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 11, 25)


def test_active_means_started_and_not_ended_on_the_day(world):
    current = PostFactory(kind="grid_worker", grid=world.g1a, started_on=TODAY)
    upcoming = PostFactory(kind="grid_worker", grid=world.g1a, started_on=TODAY + dt.timedelta(days=1))
    ended_today = PostFactory(
        kind="grid_worker", grid=world.g1a, started_on=dt.date(2024, 1, 1), ended_on=TODAY
    )
    ends_tomorrow = PostFactory(
        kind="grid_worker",
        grid=world.g1a,
        started_on=dt.date(2024, 1, 1),
        ended_on=TODAY + dt.timedelta(days=1),
    )
    mine = {current.pk, upcoming.pk, ended_today.pk, ends_tomorrow.pk}
    active = set(Post.objects.active(TODAY).filter(pk__in=mine).values_list("pk", flat=True))
    assert active == {current.pk, ends_tomorrow.pk}
    tomorrow = set(
        Post.objects.active(TODAY + dt.timedelta(days=1)).filter(pk__in=mine).values_list("pk", flat=True)
    )
    assert tomorrow == {current.pk, upcoming.pk}
    # Post management still lists (and can end) a post assigned ahead of time.
    listed = set(Post.objects.not_ended(TODAY).filter(pk__in=mine).values_list("pk", flat=True))
    assert listed == {current.pk, upcoming.pk, ends_tomorrow.pk}


def test_department_handlers_are_the_active_ones(world, time_machine):
    time_machine.move_to(dt.datetime(2025, 11, 25, 10, 0, tzinfo=dt.UTC), tick=False)
    dept = DepartmentFactory(region=world.county, code="sifa", name="司法局")
    now = PostFactory(kind="department_handler", department=dept, started_on=dt.date(2024, 1, 1))
    PostFactory(kind="department_handler", department=dept, started_on=dt.date(2025, 11, 26))
    PostFactory(kind="department_handler", department=dept, started_on=dt.date(2024, 1, 1), ended_on=TODAY)
    assert [p.pk for p in selectors.department_handlers(departments=[dept])[dept.pk]] == [now.pk]
