"""The console page (definitions shown, charts' data embedded, ranking), the .xlsx export (opens, right numbers,
formula-safe) and the REST endpoint, each scoped per role."""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from linli.metrics import rollup
from linli.metrics.definitions import RATES
from linli.metrics.tests.conftest import AS_OF

pytestmark = pytest.mark.django_db

CUSTOM = {"period": "custom", "start": "2025-11-24", "end": "2025-11-25"}


@pytest.fixture
def built(loop):
    rollup.rebuild(now=AS_OF)
    return loop


def login(client, world, who: str):
    client.force_login(world.users[who])
    return client


def page(client, **params):
    with time_machine.travel(AS_OF, tick=False):
        return client.get(reverse("console:metrics"), {**CUSTOM, **params})


# ------------------------------------------------------------------------------------------------------- page


def test_page_shows_the_rates_with_their_definitions(built, world, client):
    login(client, world, "street_staff")
    response = page(client)
    assert response.status_code == 200
    html = response.content.decode()
    for d in RATES:
        assert str(d.label) in html
        assert str(d.formula) in html  # on the card and in the 口径说明 panel
    assert "口径说明" in html and "不予受理的诉求单独计数" in html
    # The cards: 7/10, 5/9, 5/10, 4/5, 2/6 and the median estimate.
    cards = [(c["key"], c["ratio"].numerator, c["ratio"].denominator) for c in response.context["cards"]]
    assert cards == [
        ("response", 7, 10),
        ("on_time", 5, 9),
        ("resolution", 5, 10),
        ("satisfaction", 4, 5),
        ("rework", 2, 6),
    ]
    assert "70.0%" in html and "55.6%" in html and "80.0%" in html and "27.0 小时" in html
    assert "vendor/echarts/echarts.common.min.js" in html and "metrics/charts.js" in html
    assert 'href="/metrics/export.xlsx?' in html.replace("&amp;", "&") or "export.xlsx" in html


def embedded(html: str, element_id: str):
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_page_embeds_the_chart_data(built, world, client):
    login(client, world, "street_staff")
    html = page(client).content.decode()
    trend = embedded(html, "metrics-trend")
    assert trend["labels"] == ["2025-11-24", "2025-11-25"]
    assert trend["cases"] == [5, 5]
    response = next(s for s in trend["series"] if s["key"] == "response")
    assert response["data"] == [60.0, 80.0]  # 3/5, 4/5
    cats = embedded(html, "metrics-categories")
    assert dict(zip(cats["labels"], cats["cases"], strict=True)) == {
        "物业服务 / 公共设施报修": 6,
        "噪音扰民": 4,
    }


def test_ranking_table_and_drill_down(built, world, client):
    login(client, world, "street_staff")
    response = page(client, group_by="grid", rank_by="response", min_cases="1")
    ranked = [row.label for row, _link in response.context["ranked"]]
    assert ranked == ["东安二区", "东安一区", "双河小区"]  # 3/3, 3/4, 1/3
    _row, link = response.context["ranked"][0]
    assert f"grid={world.g1b.pk}" in link and "group_by=category" in link
    drilled = page(client, group_by="category", grid=str(world.g1b.pk))
    assert drilled.status_code == 200
    assert drilled.context["total"].counts.cases == 3  # A3 A7 B3
    by_street = page(client, group_by="street")
    (street_row, street_link) = by_street.context["ranked"][0]
    assert street_row.label == "东城街道" and "region=371702001" in street_link


def test_page_query_count_does_not_grow_with_groups(built, world, client):
    login(client, world, "county_admin")
    page(client)  # warm caches (calendar, sessions)
    with CaptureQueriesContext(connection) as by_grid:
        page(client, group_by="grid")
    with CaptureQueriesContext(connection) as by_day:
        page(client, group_by="day")
    assert len(by_grid) <= 16
    assert abs(len(by_grid) - len(by_day)) <= 2


@pytest.mark.parametrize(
    ("who", "status", "cases"),
    [
        ("grid_worker", 200, 4),
        ("community_worker", 200, 7),
        ("secretary", 200, 3),
        ("department_handler", 200, 3),
        ("building_captain", 403, None),
        ("no_post", 403, None),
    ],
)
def test_page_scope_per_role(built, world, client, who, status, cases):
    login(client, world, who)
    response = page(client)
    assert response.status_code == status
    if cases is not None:
        assert response.context["total"].counts.cases == cases


def test_page_needs_a_login(client):
    response = client.get(reverse("console:metrics"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_bad_filters_are_named(built, world, client):
    login(client, world, "community_worker")
    response = page(client, start="2025-11-26", end="2025-11-20")
    assert response.status_code == 400
    assert "开始日期不能晚于结束日期" in response.content.decode()
    response = page(client, region="371702002001")  # c3: outside c1's worker's scope
    assert response.status_code == 400
    assert "不在您的管辖范围内" in response.content.decode()
    response = page(client, period="custom", start="", end="")
    assert "请选择开始日期" in response.content.decode()


def test_sidebar_links_the_page(built, world, client):
    login(client, world, "grid_worker")
    with time_machine.travel(AS_OF, tick=False):
        html = client.get(reverse("console:home")).content.decode()
    assert "三率统计" in html and reverse("console:metrics") in html


# ----------------------------------------------------------------------------------------------------- export


def export(client, **params):
    with time_machine.travel(AS_OF, tick=False):
        return client.get(reverse("console:metrics_export"), {**CUSTOM, **params})


def test_export_opens_with_the_right_numbers(built, world, client):
    login(client, world, "street_staff")
    response = export(client, group_by="grid")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    wb = load_workbook(BytesIO(b"".join(response.streaming_content)))
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert header[:6] == ("网格", "有效诉求", "不予受理", "已合并", "在办", "响应率")
    col = {name: i for i, name in enumerate(header)}
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"东安一区", "东安二区", "双河小区", "合计"}
    g1a, total = by_name["东安一区"], by_name["合计"]
    assert (g1a[col["有效诉求"]], g1a[col["已合并"]]) == (4, 1)
    assert (g1a[col["按时受理"]], g1a[col["应计受理"]]) == (3, 4)
    assert g1a[col["响应率"]] == pytest.approx(0.75)
    assert (total[col["有效诉求"]], total[col["不予受理"]]) == (10, 1)
    assert total[col["按时办结率"]] == pytest.approx(5 / 9)
    assert total[col["满意率"]] == pytest.approx(0.8)
    assert total[col["无应答占比"]] == pytest.approx(1 / 6)
    assert total[col["返工率"]] == pytest.approx(2 / 6)
    assert total[col["办理时长中位数（小时）"]] == 27.0
    assert ws.cell(row=2, column=col["响应率"] + 1).number_format == "0.0%"
    notes = {r[0]: r[1] for r in wb.worksheets[1].iter_rows(values_only=True)}
    assert notes["统计期（上报日期）"] == "2025-11-24 ~ 2025-11-25"
    assert "作出评价的回访" in notes["满意率"]


def test_export_guards_against_formula_injection(built, world, client):
    world.g2.name = '=HYPERLINK("http://evil")'
    world.g2.save()
    login(client, world, "street_staff")
    wb = load_workbook(BytesIO(b"".join(export(client, group_by="grid").streaming_content)))
    names = [r[0] for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://evil")' in names
    assert not any(isinstance(n, str) and n.startswith("=") for n in names)


def test_export_is_scoped_and_refuses_bad_input(built, world, client):
    login(client, world, "secretary")
    wb = load_workbook(BytesIO(b"".join(export(client, group_by="grid").streaming_content)))
    assert [r[0] for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True)] == ["双河小区", "合计"]
    assert export(client, start="bad-date").status_code == 400
    login(client, world, "no_post")
    assert export(client).status_code == 403


# -------------------------------------------------------------------------------------------------------- API


def api(client, **params):
    with time_machine.travel(AS_OF, tick=False):
        return client.get("/api/v1/metrics/rates", {"from": "2025-11-24", "to": "2025-11-25", **params})


def test_api_rates(built, world, client):
    login(client, world, "community_worker")
    body = api(client, group_by="grid").json()
    assert (body["period_from"], body["period_to"], body["group_by"]) == ("2025-11-24", "2025-11-25", "grid")
    assert {d["key"] for d in body["definitions"]} >= {"response", "on_time", "resolution", "satisfaction"}
    total = body["total"]
    assert total["counts"]["cases"] == 7  # c1: A1 A2 A3 A7 B1 B3 B5
    # c1: accepted on time A1 A3 A7 B1 B3 B5 = 6 / A1 A2 A3 A7 B1 B3 B5 = 7
    assert total["response_rate"] == {"numerator": 6, "denominator": 7, "value": pytest.approx(6 / 7)}
    # satisfied A1 B3 + basically A2 / answered A1 A2 A3 B3
    assert total["satisfaction_rate"]["numerator"] == 3 and total["satisfaction_rate"]["denominator"] == 4
    assert {r["label"] for r in body["rows"]} == {"东安一区", "东安二区"}
    g1a = next(r for r in body["rows"] if r["key"] == str(world.g1a.pk))
    assert g1a["rework_rate"] == {"numerator": 0, "denominator": 2, "value": 0.0}
    assert len(g1a["counts"]["handling_time_histogram"]) == len(body["bucket_edges_hours"]) + 1


def test_api_by_day_and_nothing_to_rate(built, world, client):
    login(client, world, "secretary")  # c2: A4 B2 B4
    body = api(client, group_by="day").json()
    assert [r["key"] for r in body["rows"]] == ["2025-11-24", "2025-11-25"]
    day1 = body["rows"][0]  # A4 alone: nothing resolved, nobody answered
    assert day1["satisfaction_rate"] == {"numerator": 0, "denominator": 0, "value": None}
    assert day1["median_handling"]["hours"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "id"}, "group_by"),
        ({"from": "2025-11-30", "to": "2025-11-01"}, "from"),
        ({"category": "999999"}, "category"),
        ({"region": "371702002001"}, "region"),
        ({"grid": "999999"}, "grid"),
    ],
)
def test_api_errors_name_the_parameter(built, world, client, params, field):
    login(client, world, "community_worker")
    response = api(client, **params)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_api_permissions(built, world, client):
    assert api(client).status_code == 401
    login(client, world, "building_captain")
    assert api(client).status_code == 403
    login(client, world, "department_handler")
    body = api(client, group_by="department").json()
    assert [r["label"] for r in body["rows"]] == ["住建局"]


def test_api_query_count_is_constant(built, world, client):
    login(client, world, "county_admin")
    api(client)
    counts = []
    for group in ("grid", "day", "category", "street"):
        with CaptureQueriesContext(connection) as ctx:
            assert api(client, group_by=group).status_code == 200
        counts.append(len(ctx))
    assert max(counts) - min(counts) <= 1
    assert max(counts) <= 10  # session (read + save), user, posts, rollup aggregate, names, state


@pytest.mark.parametrize(
    ("who", "group"),
    [
        ("county_admin", "street"),
        ("street_staff", "community"),
        ("community_worker", "grid"),
        ("grid_worker", "category"),
        ("department_handler", "category"),
    ],
)
def test_the_page_groups_one_level_below_the_users_place(built, world, client, who, group):
    login(client, world, who)
    assert page(client).context["group_by"] == group


def test_page_in_english(built, world, client, settings):
    login(client, world, "street_staff")
    try:
        with time_machine.travel(AS_OF, tick=False):
            html = client.get(reverse("console:metrics"), CUSTOM, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    finally:
        translation.activate(settings.LANGUAGE_CODE)  # the request left English active on this thread
    assert "Response rate" in html and "On-time resolution rate" in html
    assert "A callback without an answer is not counted as satisfied" in html
