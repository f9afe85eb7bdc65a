"""每月一题: a month's appeals in a region clustered into issues and ranked (count, households, likes), per role."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook

from linli.cases import services
from linli.cases.models import Case
from linli.cases.supporters import support
from linli.core.errors import LinliError
from linli.org import access
from linli.org.access import Cap
from linli.triage import top_issues
from linli.triage.models import EmergingIssue, EmergingIssueCase
from linli.triage.tests.top_issues_world import MONTH, PARKING, SCHOOL, at, build, make
from linli.triage.top_issues import Month, parse_month

pytestmark = pytest.mark.django_db

NOV = Month(parse_month(MONTH).first)


@pytest.fixture
def cases(world, categories):
    return build(world, categories)


def report(world, role="community_worker", region=None, **kwargs):
    return top_issues.top_issues(access.scope_for(world.users[role], Cap.CASE_VIEW), NOV, region, **kwargs)


def ids(issue) -> list[int]:
    return [c.pk for c in issue.cases]


def test_parking_then_school_then_singles(world, categories, cases):
    got = report(world)
    assert got.cases == 12  # c1's November appeals: not October's, not the rejected one, not c2's
    first, second = got.issues[:2]
    assert ids(first) == [c.pk for c in cases["parking"]] and first.rank == 1
    assert ids(second) == [c.pk for c in cases["school"]] and second.rank == 2
    assert [i.count for i in got.issues[2:]] == [1] * 5
    assert (first.count, first.households, first.likes, first.merged) == (4, 4, 0, 0)
    assert first.first == at(3) and first.last == at(6)
    assert "幸福里小区" in "".join(first.terms) and first.label in PARKING
    assert first.category == categories["neighbour_dispute"].name


def test_likes_break_a_tie_of_count_and_households(world, cases):
    for case in cases["parking"][2:]:  # 2 parking appeals vs 3 school ones: drop one school appeal to tie
        Case.objects.filter(pk=case.pk).update(status="rejected")
    Case.objects.filter(pk=cases["school"][2].pk).update(status="rejected")
    tied = report(world).issues[:2]
    assert [i.count for i in tied] == [2, 2] and tied[0].cases[0].pk == cases["parking"][
        0
    ].pk  # earlier first
    support(case=cases["school"][0], who="phone:13800000001")
    support(case=cases["school"][1], who="phone:13800000002")
    liked = report(world).issues[:2]
    assert liked[0].cases[0].pk == cases["school"][0].pk and liked[0].likes == 2
    assert liked[0].appeals[0][1] == 1


def test_households_count_once_and_include_merged_appeals(world, categories, cases):
    home = world.households["g1a"]
    for case in cases["parking"][:2]:
        Case.objects.filter(pk=case.pk).update(household=home)
    assert report(world).issues[0].households == 3
    extra = make(world, categories, PARKING[3], at(8))
    Case.objects.filter(pk=extra.pk).update(merged_into=cases["parking"][0], status="merged")
    first = report(world).issues[0]
    assert (first.count, first.households, first.merged) == (4, 4, 1)


def test_scoped_per_role_and_region(world, cases):
    assert {c.pk for i in report(world, "secretary").issues for c in i.cases} == {
        c.pk for c in cases["plant"]
    }
    street = report(world, "street_staff")
    assert street.cases == 14 and [i.count for i in street.issues[:3]] == [4, 3, 2]
    only_c2 = report(world, "street_staff", region=world.c2)
    assert [ids(i) for i in only_c2.issues] == [[c.pk for c in cases["plant"]]]
    assert report(world, "grid_worker").cases == 12  # all of c1's appeals are in g1a
    assert report(world, "no_post").issues == [] and report(world, "department_handler").cases == 0
    assert len(report(world, limit=2).issues) == 2


def test_months_are_calendar_months_in_local_time(world, cases):
    october = top_issues.top_issues(
        access.scope_for(world.users["community_worker"], Cap.CASE_VIEW), parse_month("2025-10")
    )
    assert [ids(i) for i in october.issues] == [[cases["october"][0].pk]]


@pytest.mark.parametrize("bad", ["2025-13", "2025/11", "11-2025", "1999-01", "abc"])
def test_bad_month(bad):
    with pytest.raises(LinliError) as exc:
        parse_month(bad)
    assert exc.value.field == "month"


def test_blank_month_is_this_month():
    import datetime as dt

    assert parse_month("", dt.date(2025, 2, 17)).first == dt.date(2025, 2, 1)
    assert parse_month("2025-12").bounds()[1].month == 1


def test_export_opens_and_holds_the_rows(world, cases):
    got = report(world)
    buffer = BytesIO()
    assert top_issues.export_xlsx(got, buffer, scope_label="东安社区") == len(got.issues)
    wb = load_workbook(BytesIO(buffer.getvalue()))
    main, detail = wb.worksheets
    rows = list(main.iter_rows(values_only=True))
    assert rows[0][:4] == ("月份", MONTH, "范围", "东安社区")
    assert rows[1][:5] == ("排名", "问题", "共同词", "诉求件数", "涉及户数")
    assert rows[2][0] == 1 and rows[2][3] == 4 and rows[2][1] in PARKING
    assert rows[3][3] == 3 and rows[3][1] in SCHOOL
    assert len(rows) == 2 + len(got.issues)
    lines = list(detail.iter_rows(values_only=True))
    assert len(lines) == 1 + got.cases
    assert lines[1][1] == cases["parking"][0].number


def test_formula_like_titles_are_written_as_text(world, categories):
    make(world, categories, '=HYPERLINK("x")投诉', at(2))
    buffer = BytesIO()
    top_issues.export_xlsx(report(world), buffer)
    cell = load_workbook(BytesIO(buffer.getvalue())).worksheets[0].cell(row=3, column=2)
    assert cell.data_type == "s" and str(cell.value).startswith("'=")


def lift(world, categories, title, day, building=None, category="property_elevator"):
    case = services.case_create(
        channel="grid_worker",
        category=categories[category],
        grid=world.g1a,
        building=building or world.households["g1a"].building,
        title=title,
        description=title,
    )
    Case.objects.filter(pk=case.pk).update(created_at=at(day))
    return case


def test_one_buildings_appeals_of_one_category_are_one_issue_whatever_the_wording(world, categories):
    worded = ["3号楼电梯又停运了", "电梯坏了", "电梯故障停运"]
    made = [lift(world, categories, t, 10 + n) for n, t in enumerate(worded)]
    other = lift(
        world, categories, "楼道灯坏了", 14, category="property_repair"
    )  # same building, other category
    got = report(world)
    assert [ids(i) for i in got.issues] == [[c.pk for c in made], [other.pk]]
    assert got.issues[0].label in worded and got.issues[0].category == categories["property_elevator"].name


def test_appeals_linked_to_one_emerging_issue_are_one_issue(world, categories):
    first = make(world, categories, "水管爆了", at(10))
    second = make(world, categories, "地下室进水", at(11))
    assert len(report(world).issues) == 2
    issue = EmergingIssue.objects.create(
        community=world.g1a.community,
        region_code=first.region_code,
        grid=world.g1a,
        title="漏水",
        first_at=at(10),
        last_at=at(11),
        created_at=at(11),
        updated_at=at(11),
    )
    for case in (first, second):
        EmergingIssueCase.objects.create(issue=issue, case=case, added_at=at(11))
    (joined,) = report(world).issues
    assert ids(joined) == [first.pk, second.pk] and joined.households == 2
