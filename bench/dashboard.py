"""The home pages benchmark: ``linli bench dashboard [--n N] [--json]`` (PostgreSQL only; not a timed test).

The issue's budget: each role's home page (工作台) answers in at most 15 queries and with a p95 of at most 150 ms for
a county of 1,000,000 residents and 10,000,000 cases. The data is the appeals benchmark's (``bench/cases.py``: a
city from ``linli.ops.citygen`` with one resident per ten cases and ``n`` cases from ``linli.ops.casegen``, 15 %
open), in ``linli_bench_cases`` — generated when missing (about 40 minutes at the default ten million), reused
with ``LINLI_BENCH_REUSE=1`` (``LINLI_BENCH_DASHBOARD_DB=linli_bench_cases_…`` names another database, e.g. for a
small trial run beside a kept full-size one).

Steps and figures:

* the monitor's recounts, timed: ``queue_recount_s`` (``linli.cases.dashboard.refresh_queue_counts``: the open
  cases per community and department) and ``population_recount_s`` (``linli.registry.population``); the 三率
  rollup is rebuilt first when it is empty (``metrics_rebuild_s``);
* per role — the administrator of the county with the most residents, the staff of the street with the most open
  cases, the worker of that street's busiest community, a grid worker of that community, the handler of the
  department with the most open cases — the home page through Django's full middleware (session, CSRF, auth,
  the console's shell) in-process, signed in: ``home_<role>_queries`` (target ≤ 15) and ``home_<role>_p95_ms``
  over ``LINLI_BENCH_HOME_REQUESTS`` (200) requests after a warm-up (target ≤ 150), with the median;
* the baseline: the county's counts taken live from the case table (``area_counts`` on a county scope forced
  live, what a page without the monitor's counts would run): ``county_live_count_ms`` (median of 5).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench._cases_util import BENCH_DB, DEFAULT_N, Emit, env_int, fresh_database, note, pct

QUERY_TARGET = 15
P95_TARGET_MS = 150


def run(n: int | None, emit: Emit) -> None:
    from bench.cases import prepare

    n = n or DEFAULT_N
    reuse = os.environ.get("LINLI_BENCH_REUSE") == "1"
    with tempfile.TemporaryDirectory(prefix="linli-bench-dashboard-") as tmpdir:
        _, restore = fresh_database(os.environ.get("LINLI_BENCH_DASHBOARD_DB", BENCH_DB), reuse)
        try:
            prepare(n, Path(tmpdir), emit)
            _recounts(emit)
            for role, user in _people().items():
                _home(role, user, emit)
            _baseline(emit)
        finally:
            restore()


def _recounts(emit: Emit) -> None:
    from linli.cases.dashboard import refresh_queue_counts
    from linli.metrics import rollup
    from linli.metrics.models import CaseRollup
    from linli.registry.population import refresh_population_counts

    if not CaseRollup.objects.exists():
        t = time.perf_counter()
        days = rollup.rebuild()
        emit(metric="metrics_rebuild_s", value=time.perf_counter() - t, unit="s", days=days)
    result = refresh_queue_counts()
    emit(metric="queue_recount_s", value=result.seconds, unit="s", groups=result.groups)
    t = time.perf_counter()
    communities = refresh_population_counts()
    emit(metric="population_recount_s", value=time.perf_counter() - t, unit="s", communities=communities)


def _people() -> dict[str, Any]:
    """One user per role, on the busiest places (see the module doc)."""
    from django.db.models import Count, Sum

    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case, QueueCount
    from linli.org.models import Post
    from linli.registry.models import PopulationCount, Region

    counties = Region.objects.filter(level="county")
    county = max(counties, key=lambda c: _sum_in(c, PopulationCount, "residents"))
    street = max(
        Region.objects.filter(level="street", parent=county), key=lambda s: _sum_in(s, QueueCount, "open")
    )
    community = max(
        Region.objects.filter(level="community", parent=street), key=lambda c: _sum_in(c, QueueCount, "open")
    )
    grid_id = (
        Case.objects.filter(region_code=int(community.code), status__in=OPEN_INDEX_STATUSES)
        .values("grid_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("grid_id", flat=True)
        .first()
    )
    department_id = (
        QueueCount.objects.exclude(department_id=0)
        .values("department_id")
        .annotate(n=Sum("open"))
        .order_by("-n")
        .values_list("department_id", flat=True)
        .first()
    )
    posts = Post.objects.select_related("user")
    people = {
        "county": posts.filter(kind="county_admin", region=county).first(),
        "street": posts.filter(kind="street_staff", region=street).first(),
        "community": posts.filter(kind="community_worker", region=community).first(),
        "grid": posts.filter(kind="grid_worker", grid_id=grid_id).first(),
        "department": posts.filter(kind="department_handler", department_id=department_id).first(),
    }
    for role, post in people.items():
        where = post.region or post.grid or post.department if post else None
        note(f"home: {role} = {post.user.username if post else '—'} on {where}")
    return {role: post.user for role, post in people.items() if post is not None}


def _sum_in(region: Any, model: Any, column: str) -> int:
    """``column`` summed over the counted rows of ``region`` (its communities)."""
    from django.db.models import Sum

    from linli.core.scope import code_range

    lo, hi = code_range(region.code, region.level)
    return model.objects.filter(region_code__range=(lo, hi)).aggregate(n=Sum(column))["n"] or 0


def _signed_in(user: Any) -> Client:
    """A client signed in as ``user`` who has passed the second factor, as a real administrator has (an enrolled
    TOTP device in the session: the OTP middleware loads it on every request, as in production)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _home(role: str, user: Any, emit: Emit) -> None:
    client = _signed_in(user)
    for _ in range(5):  # warm-up: sessions, caches, plans
        response = client.get("/")
        assert response.status_code == 200, (role, response.status_code, response.get("Location"))
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert response.status_code == 200, response.status_code
    emit(metric=f"home_{role}_queries", value=len(ctx.captured_queries), unit="queries", target=QUERY_TARGET)
    times = []
    for _ in range(env_int("LINLI_BENCH_HOME_REQUESTS", 200)):
        t = time.perf_counter()
        response = client.get("/")
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    emit(
        metric=f"home_{role}_p95_ms",
        value=pct(times, 95),
        unit="ms",
        target=P95_TARGET_MS,
        p50_ms=round(statistics.median(times), 2),
        requests=len(times),
        user=user.username,
    )


def _baseline(emit: Emit) -> None:
    """The county's counts straight from the case table (what the monitor's counts spare each page view)."""
    from django.utils import timezone

    from linli.cases import dashboard
    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case
    from linli.core.scope import Scope, code_range
    from linli.registry.models import Region

    county = Region.objects.filter(level="county").order_by("code").first()
    if county is None:
        return
    scope = Scope(region_ranges=(code_range(county.code, county.level),))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        scope.apply(Case.objects.filter(status__in=OPEN_INDEX_STATUSES)).aggregate(
            **dashboard.queue_aggregates(timezone.now())
        )
        times.append((time.perf_counter() - t) * 1000)
    emit(metric="county_live_count_ms", value=statistics.median(times), unit="ms", county=county.code)
