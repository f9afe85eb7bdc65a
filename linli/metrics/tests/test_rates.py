"""Every rate against the hand-counted fixture (see conftest.py), the rollup against the plain aggregate, and the
scope each role sees."""

from __future__ import annotations

from fractions import Fraction

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linli.core.scope import Scope
from linli.metrics import rollup, selectors
from linli.metrics.definitions import BUCKETS, Ratio, median_from_hist
from linli.metrics.models import CaseRollup, CaseRollupMonth
from linli.metrics.selectors import Filters, Period
from linli.metrics.tests.conftest import AS_OF, DAY1, DAY2
from linli.org import access
from linli.org.access import Cap

pytestmark = pytest.mark.django_db

BOTH = Period(DAY1, DAY2)
ALL = Scope(everything=True)


def frac(r: Ratio) -> Fraction | None:
    return None if r.denominator == 0 else Fraction(r.numerator, r.denominator)


def as_pairs(row: selectors.Row) -> dict[str, tuple[int, int]]:
    return {k: (v.numerator, v.denominator) for k, v in row.rates.items()}


@pytest.fixture
def built(loop):
    rollup.rebuild(now=AS_OF)
    return loop


def test_total_rates_counted_by_hand(built):
    report = selectors.rates(ALL, BOTH, "day")
    c = report.total.counts
    # Valid cases: A1 A2 A3 A4 A7 + B1..B5 = 10; A5 rejected, A6 merged (both outside every rate).
    assert (c.cases, c.rejected, c.merged, c.open) == (10, 1, 1, 5)  # open: A3 A4 B1 B4 B5
    assert as_pairs(report.total) == {
        # accepted on time A1 A3 A7 B1 B2 B3 B5 = 7 / accepted (A1 A2 A3 A7 B1 B2 B3 B5) + past due (A4 B4) = 10
        "response": (7, 10),
        # resolved on time A1 A2 A7 B2 B3 = 5 / resolved once (A1 A2 A3 A7 B2 B3) + past due (A4 B1 B4) = 9;
        # B5 is paused before its deadline (Fri 17:30) and does not count yet
        "on_time": (5, 9),
        # resolved now A1 A2 A7 B2 B3 = 5 / 10 valid (A3 was reopened, so it is not resolved now)
        "resolution": (5, 10),
        # 满意 A1 B2 B3 + 基本满意 A2 = 4 / answered A1 A2 A3 B2 B3 = 5 (A7 no response is not counted)
        "satisfaction": (4, 5),
        # reopened A3 B3 = 2 / resolved at least once A1 A2 A3 A7 B2 B3 = 6
        "rework": (2, 6),
    }
    assert frac(report.total.no_response) == Fraction(1, 6)  # A7 / (5 answered + 1 silent)
    assert frac(report.total.ratio("response")) == Fraction(7, 10)
    # Handling times of the cases resolved now: B2 3 h, A7 6 h, A1 24 h, B3 24 h (from report to the final
    # resolution), A2 53 h. Exact median 24 h; the histogram's estimate lies in its bucket [24, 36 h):
    # 2.5 of 5 → 0.5 of the 2 cases in the bucket → 24 + 12 × 0.25 = 27 h.
    median = report.total.median
    assert (median.low, median.high, median.count) == (24, 36, 5)
    assert median.hours == pytest.approx(27.0)
    assert c.hist[2] == 1 and c.hist[3] == 1 and c.hist[6] == 2 and c.hist[8] == 1 and sum(c.hist) == 5


def test_per_day(built):
    rows = {r.key: r for r in selectors.rates(ALL, BOTH, "day").rows}
    assert list(rows) == [DAY1, DAY2]
    day1, day2 = rows[DAY1], rows[DAY2]
    assert (day1.counts.cases, day1.counts.rejected, day1.counts.merged) == (5, 1, 1)
    assert as_pairs(day1) == {
        "response": (3, 5),  # A1 A3 A7 on time; A2 late; A4 past due
        "on_time": (3, 5),  # A1 A2 A7 on time; A3 late; A4 past due
        "resolution": (3, 5),  # A1 A2 A7
        "satisfaction": (2, 3),  # A1 满意, A2 基本满意 / + A3 不满意
        "rework": (1, 4),  # A3 / A1 A2 A3 A7
    }
    assert as_pairs(day2) == {
        "response": (4, 5),  # B4 past due
        "on_time": (2, 4),  # B2 B3 on time; B1 B4 past due; B5 paused before its deadline
        "resolution": (2, 5),
        "satisfaction": (2, 2),
        "rework": (1, 2),  # B3 / B2 B3
    }
    # One day's median: A7 6 h, A1 24 h, A2 53 h → the middle case lies in [24, 36 h): 24 + 12 × 0.5 = 30 h.
    assert day1.median.hours == pytest.approx(30.0)


def test_per_grid_community_street(built, world):
    grids = {r.key: r for r in selectors.rates(ALL, BOTH, "grid").rows}
    assert {k: as_pairs(r) for k, r in grids.items()} == {
        world.g1a.pk: {  # A1 A2 B1 B5 (A6 merged)
            "response": (3, 4),
            "on_time": (2, 3),
            "resolution": (2, 4),
            "satisfaction": (2, 2),
            "rework": (0, 2),
        },
        world.g1b.pk: {  # A3 A7 B3
            "response": (3, 3),
            "on_time": (2, 3),
            "resolution": (2, 3),
            "satisfaction": (1, 2),
            "rework": (2, 3),
        },
        world.g2.pk: {  # A4 B2 B4 (A5 rejected)
            "response": (1, 3),
            "on_time": (1, 3),
            "resolution": (1, 3),
            "satisfaction": (1, 1),
            "rework": (0, 1),
        },
    }
    assert grids[world.g1a.pk].label == "东安一区"
    assert frac(grids[world.g1b.pk].no_response) == Fraction(1, 3)  # A7 / (A3 B3 answered + A7)
    assert grids[world.g2.pk].counts.rejected == 1

    communities = {r.label: r.counts.cases for r in selectors.rates(ALL, BOTH, "community").rows}
    assert communities == {"东安社区": 7, "双河社区": 3}
    (street,) = selectors.rates(ALL, BOTH, "street").rows
    assert (street.key, street.label, street.counts.cases) == (371702001, "东城街道", 10)
    assert as_pairs(street) == as_pairs(selectors.rates(ALL, BOTH, "day").total)


def test_per_department_and_category(built, categories):
    depts = {r.label: r for r in selectors.rates(ALL, BOTH, "department").rows}
    assert set(depts) == {"住建局", "未指派部门"}
    zj = depts["住建局"]  # A1 A7 B2
    assert zj.counts.cases == 3
    assert as_pairs(zj) == {
        "response": (3, 3),
        "on_time": (3, 3),
        "resolution": (3, 3),
        "satisfaction": (2, 2),  # A1 B2 (A7 no response)
        "rework": (0, 3),
    }
    assert depts["未指派部门"].counts.cases == 7

    cats = {r.key: r for r in selectors.rates(ALL, BOTH, "category").rows}
    pr, noise = cats[categories["property_repair"].pk], cats[categories["noise"].pk]
    assert pr.label == "物业服务 / 公共设施报修"
    assert (pr.counts.cases, pr.counts.rejected, pr.counts.merged) == (6, 1, 1)  # A1 A2 A7 B2 B3 B5
    assert (noise.counts.cases, noise.counts.open) == (4, 4)  # A3 A4 B1 B4
    assert as_pairs(noise)["response"] == (2, 4)  # A3 B1 / + A4 B4 past due

    # The category filter takes a category with everything below it.
    parent = selectors.rates(ALL, BOTH, "day", Filters(category_id=categories["property"].pk))
    assert parent.total.counts.cases == 6


def test_month_and_place_filter(built, world):
    (month,) = selectors.rates(ALL, Period(DAY1.replace(day=1), DAY2), "month").rows
    assert (month.label, month.counts.cases) == ("2025-11", 10)
    c1 = selectors.rates(ALL, BOTH, "grid", Filters(region=world.c1))
    assert {r.key for r in c1.rows} == {world.g1a.pk, world.g1b.pk}
    one = selectors.rates(ALL, BOTH, "day", Filters(grid_id=world.g2.pk))
    assert one.total.counts.cases == 3
    assert selectors.rates(ALL, Period(DAY2, DAY2), "day").total.counts.cases == 5


@pytest.mark.parametrize("group_by", selectors.GROUP_BY)
def test_rollup_equals_plain_sql(built, world, categories, group_by):
    for scope in (ALL, access.scope_for(world.users["community_worker"], Cap.CASE_VIEW)):
        for filters in (Filters(), Filters(category_id=categories["noise"].pk), Filters(region=world.c1)):
            from_rollup = selectors.rates(scope, BOTH, group_by, filters)
            plain = selectors.rates_plain_sql(scope, BOTH, group_by, filters, now=AS_OF)
            assert [(r.key, r.label, r.counts) for r in from_rollup.rows] == [
                (r.key, r.label, r.counts) for r in plain.rows
            ]
            assert from_rollup.total.counts == plain.total.counts


def test_counts_outside_the_period_are_left_out(built):
    assert selectors.rates(ALL, Period(DAY2.replace(day=26), DAY2.replace(day=30)), "grid").rows == []


@pytest.mark.parametrize(
    ("user", "cases", "grids"),
    [
        ("grid_worker", 4, {"g1a"}),  # their grid
        ("community_worker", 7, {"g1a", "g1b"}),  # community c1
        ("secretary", 3, {"g2"}),  # community c2
        ("street_staff", 10, {"g1a", "g1b", "g2"}),  # street 1
        ("county_admin", 10, {"g1a", "g1b", "g2"}),
        ("department_handler", 3, {"g1a", "g1b", "g2"}),  # cases routed to 住建局 only: A1 A7 B2
        ("building_captain", 0, set()),  # no case capability
        ("property_manager", 0, set()),
        ("no_post", 0, set()),
    ],
)
def test_scope_limits_what_each_role_sees(built, world, user, cases, grids):
    scope = access.scope_for(world.users[user], Cap.CASE_VIEW)
    report = selectors.rates(scope, BOTH, "grid")
    names = {"g1a": world.g1a.pk, "g1b": world.g1b.pk, "g2": world.g2.pk}
    assert report.total.counts.cases == cases
    assert {r.key for r in report.rows} == {names[g] for g in grids}
    if not scope.handled:  # a property manager's scope is the cases handed to them: no area, no rollup rows
        assert selectors.rates_plain_sql(scope, BOTH, "grid", now=AS_OF).total.counts == report.total.counts


def test_ranking(built, world):
    report = selectors.rates(ALL, BOTH, "grid")
    by_response = selectors.ranking(report, "response", min_cases=1)
    assert [r.key for r in by_response.ranked] == [world.g1b.pk, world.g1a.pk, world.g2.pk]  # 3/3, 3/4, 1/3
    by_rework = selectors.ranking(report, "rework", min_cases=1)  # lower is better
    assert [r.key for r in by_rework.ranked] == [world.g1a.pk, world.g2.pk, world.g1b.pk]  # 0/2, 0/1, 2/3
    few = selectors.ranking(report, "satisfaction", min_cases=4)  # only g1a has 4 valid cases
    assert [r.key for r in few.ranked] == [world.g1a.pk]
    assert {r.key for r in few.too_few} == {world.g1b.pk, world.g2.pk}
    with pytest.raises(Exception, match="未知的排名指标"):
        selectors.ranking(report, "id; drop table")


def test_median_estimate_edges():
    assert median_from_hist([0] * BUCKETS).hours is None
    last = [0] * BUCKETS
    last[-1] = 3
    m = median_from_hist(last)
    assert (m.hours, m.low, m.high, m.open_ended) == (720, 720, None, True)
    one = [0] * BUCKETS
    one[0] = 1
    assert median_from_hist(one).hours == pytest.approx(0.5)


def test_rollup_grain_is_one_row_per_place_department_and_category(built, world, categories):
    rows = CaseRollup.objects.filter(day=DAY1)
    # Day 1: (g1a, PR, Z) A1; (g1a, PR, –) A2 A6; (g1b, N) A3; (g1b, PR, Z) A7; (g2, N) A4; (g2, PR) A5.
    assert rows.count() == 6
    a2_a6 = rows.get(grid_id=world.g1a.pk, department_id=0, category_id=categories["property_repair"].pk)
    assert (a2_a6.cases, a2_a6.merged, a2_a6.accept_counted, a2_a6.accept_on_time) == (1, 1, 1, 0)
    assert a2_a6.region_code == 371702001001


def test_period_checks():
    with pytest.raises(Exception, match="开始日期不能晚于结束日期"):
        selectors.check_period(DAY2, DAY1)
    with time_machine.travel(AS_OF, tick=False):
        assert selectors.period_preset("this_month") == Period(DAY1.replace(day=1), AS_OF.date())
        assert selectors.period_preset("last_month") == Period(
            DAY1.replace(month=10, day=1), DAY1.replace(month=10, day=31)
        )
        assert selectors.period_preset("this_year") == Period(DAY1.replace(month=1, day=1), AS_OF.date())


NOVEMBER = Period(DAY1.replace(day=1), DAY1.replace(day=30))


def test_split_period_into_whole_months_and_days():
    today = DAY1.replace(year=2026)
    assert selectors.split_period(NOVEMBER, today) == ([DAY1.replace(day=1)], [])
    mid = Period(DAY1.replace(month=10, day=15), DAY1.replace(month=12, day=31))
    assert selectors.split_period(mid, today) == (
        [DAY1.replace(day=1), DAY1.replace(month=12, day=1)],
        [(DAY1.replace(month=10, day=15), DAY1.replace(month=10, day=31))],
    )
    # A month up to today is whole: no later day of it has cases yet.
    assert selectors.split_period(Period(DAY1.replace(day=1), DAY2), DAY2) == ([DAY1.replace(day=1)], [])
    assert selectors.split_period(BOTH, DAY2.replace(day=28)) == ([], [(DAY1, DAY2)])


def test_monthly_rollup_rows(built, categories, world):
    # (community, department, category): c1 (Z, PR) A1 A7; c1 (–, PR) A2 A6 B3 B5; c1 (–, N) A3 B1;
    # c2 (–, N) A4 B4; c2 (–, PR) A5; c2 (Z, PR) B2.
    rows = CaseRollupMonth.objects.filter(month=DAY1.replace(day=1))
    assert rows.count() == 6
    zj = world.county.departments.get(code="zhujian").pk
    c1_pr = rows.get(region_code=371702001001, department_id=0, category_id=categories["property_repair"].pk)
    assert (c1_pr.cases, c1_pr.merged, c1_pr.reworked, c1_pr.satisfied, c1_pr.basically) == (3, 1, 1, 1, 1)
    assert rows.get(region_code=371702001006, department_id=zj).cases == 1


@pytest.mark.parametrize("group_by", ["community", "street", "department", "category", "month"])
@pytest.mark.parametrize("who", ["county_admin", "community_worker", "department_handler", "grid_worker"])
def test_monthly_rollup_equals_plain_sql(built, world, group_by, who):
    scope = access.scope_for(world.users[who], Cap.CASE_VIEW)
    with CaptureQueriesContext(connection) as ctx:
        monthly = selectors.rates(scope, NOVEMBER, group_by)
    used_month_table = any("metrics_caserollupmonth" in q["sql"] for q in ctx.captured_queries)
    assert used_month_table == (who != "grid_worker")  # a grid scope needs the day rows
    plain = selectors.rates_plain_sql(scope, NOVEMBER, group_by, now=AS_OF)
    assert [(r.key, r.counts) for r in monthly.rows] == [(r.key, r.counts) for r in plain.rows]
    assert monthly.total.counts == selectors.rates(scope, BOTH, group_by).total.counts
