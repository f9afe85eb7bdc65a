"""The console's case list: scope per role, filters, keyset pages, deadline badges, a constant number of queries,
and the home page's "my queue"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from linli.cases import dashboard, selectors, supporters
from linli.cases.models import Case
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login, text

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as attributes of this module).
cats = support.cats
make = support.make


def numbers(response) -> set[str]:
    return {c.number for c in response.context["rows"]}


def test_grid_worker_sees_only_own_grid(client, world, make):
    mine = make(grid=world.g1a)
    other = make(grid=world.g1b)
    response = login(client, world, "grid_worker").get(reverse("console:cases"))
    assert response.status_code == 200
    assert numbers(response) == {mine.number}
    assert other.number not in response.content.decode()


def test_community_worker_sees_community_not_neighbours(client, world, make):
    a, b, c = make(grid=world.g1a), make(grid=world.g1b), make(grid=world.g2)
    response = login(client, world, "community_worker").get(reverse("console:cases"))
    assert numbers(response) == {a.number, b.number}
    assert c.number not in response.content.decode()


def test_department_handler_sees_routed_cases_only(client, world, make):
    routed = make(category="road_damage")  # default level: department 住建 (zhujian)
    assert routed.handler_department is not None and routed.handler_department.code == "zhujian"
    make(category="neighbour_dispute")  # community level, no department
    response = login(client, world, "department_handler").get(reverse("console:cases"))
    assert numbers(response) == {routed.number}


@pytest.mark.parametrize(
    "role", ["no_post", "building_captain"]
)  # a property manager: the cases handed to them
def test_users_without_case_scope_are_refused(client, world, make, role):
    make()
    response = login(client, world, role).get(reverse("console:cases"))
    assert response.status_code == 403


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("console:cases"))
    assert response.status_code == 302
    assert "/accounts/login" in response["Location"]


def test_filters(client, world, make, cats):
    noise = make(category="noise", title="夜间广场舞噪音", description="晚上十点后广场舞音响太大")
    parking = make(category="parking", title="车位被占", channel="door_knock")
    other = make(grid=world.g1b, title="楼道灯不亮")
    c = login(client, world, "community_worker")
    url = reverse("console:cases")
    assert numbers(c.get(url, {"category": cats["noise"].pk})) == {noise.number}
    assert numbers(c.get(url, {"channel": "door_knock"})) == {parking.number}
    assert numbers(c.get(url, {"grid": world.g1b.pk})) == {other.number}
    assert numbers(c.get(url, {"q": "广场舞"})) == {noise.number}
    assert numbers(c.get(url, {"q": parking.number.lower()})) == {parking.number}
    assert numbers(c.get(url, {"status": "closed"})) == set()
    assert len(numbers(c.get(url, {"open": "1"}))) == 3


def test_overdue_and_due_soon_badges_and_filters(client, world, make):
    now = timezone.now()
    late = make(title="超时的诉求")
    soon = make(title="快到期的诉求")
    calm = make(title="时间充裕的诉求")
    for case in (late, soon, calm):
        case.refresh_from_db()
    Case.objects.filter(pk__in=[late.pk, soon.pk, calm.pk]).update(status="assigned")
    Case.objects.filter(pk=late.pk).update(accept_due_at=now - dt.timedelta(hours=2))
    Case.objects.filter(pk=soon.pk).update(
        accept_due_at=now + dt.timedelta(hours=3), accept_soon_at=now - dt.timedelta(minutes=5)
    )
    Case.objects.filter(pk=calm.pk).update(
        accept_due_at=now + dt.timedelta(days=5), accept_soon_at=now + dt.timedelta(days=4)
    )
    c = login(client, world, "community_worker")
    page = c.get(reverse("console:cases"))
    clocks = {row.number: row.clock.state for row in page.context["rows"]}
    assert clocks == {late.number: "overdue", soon.number: "soon", calm.number: "ok"}
    html = page.content.decode()
    assert 'class="status bad">已超时' in html and 'class="status warn">即将到期' in html
    assert numbers(c.get(reverse("console:cases"), {"overdue": "1"})) == {late.number}
    assert numbers(c.get(reverse("console:cases"), {"due_soon": "1"})) == {soon.number}


def test_keyset_pages(client, world, make):
    made = [make(title=f"诉求{i}") for i in range(selectors.PAGE_SIZE + 3)]
    c = login(client, world, "community_worker")
    first = c.get(reverse("console:cases"))
    assert len(first.context["rows"]) == selectors.PAGE_SIZE
    after = first.context["next_after"]
    assert after == first.context["rows"][-1].pk
    second = c.get(reverse("console:cases"), {"after": after})
    assert {r.number for r in second.context["rows"]} == {m.number for m in made[:3]}
    assert second.context["next_after"] is None
    assert numbers(first).isdisjoint(numbers(second))


def test_list_runs_a_constant_number_of_queries(client, world, make, django_assert_max_num_queries):
    c = login(client, world, "community_worker")
    url = reverse("console:cases")
    make()
    c.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        c.get(url)
    for i in range(25):
        case = make(grid=world.g1b if i % 2 else world.g1a, category="road_damage" if i % 3 else "noise")
        supporters.support(case=case, who=f"phone:1380000{i:04d}")
    Case.objects.filter(pk__in=list(Case.objects.values_list("pk", flat=True)[:10])).update(
        handler_user=world.users["community_worker"]
    )
    with CaptureQueriesContext(connection) as many:
        response = c.get(url)
    assert len(response.context["rows"]) == 26
    assert len(many) == len(few)
    with django_assert_max_num_queries(12):
        c.get(url, {"overdue": "1", "q": "楼道"})


def test_home_shows_my_queue_with_links(client, world, make):
    worker = world.users["community_worker"]
    mine = make()
    Case.objects.filter(pk=mine.pk).update(
        handler_user=worker, status="assigned", accept_due_at=timezone.now() - dt.timedelta(hours=1)
    )
    response = login(client, world, "community_worker").get(reverse("console:home"))
    queue = response.context["queue"]
    assert (queue.open, queue.overdue) == (1, 1)
    html = response.content.decode()
    assert "我的待办诉求" in html
    assert reverse("console:cases") + "?mine=1&amp;overdue=1" in html
    mine_page = client.get(reverse("console:cases"), {"mine": "1", "overdue": "1"})
    assert numbers(mine_page) == {mine.number}


def test_department_handler_home_has_a_queue_without_registry(client, world, make):
    make(category="road_damage")
    dashboard.refresh_queue_counts()  # the department's untaken cases come from the monitor's counts
    response = login(client, world, "department_handler").get(reverse("console:home"))
    assert response.status_code == 200
    assert response.context["queue"].open == 1
    assert response.context["queue_counted_at"] is not None
    assert "尚未配置岗位" not in text(response)


def test_sidebar_has_the_cases_section(client, world):
    html = login(client, world, "secretary").get(reverse("console:home")).content.decode()
    for label in ("诉求办理", "诉求列表", "登记诉求"):
        assert label in html
    assert "分类设置" not in html  # installation-wide: county and city administrators only (ADR 0019)
    html = login(client, world, "county_admin").get(reverse("console:home")).content.decode()
    assert "分类设置" in html
    html = login(client, world, "grid_worker").get(reverse("console:home")).content.decode()
    assert "诉求列表" in html and "分类设置" not in html


def test_case_list_in_english(client, world, make):
    make()
    c = login(client, world, "community_worker")
    assert c.post(reverse("set_language"), {"language": "en", "next": "/"}).status_code == 302
    html = c.get(reverse("console:cases")).content.decode()
    for english, chinese in (
        ("Appeals", "诉求办理"),
        ("All statuses", "全部状态"),
        ("Quick filters", "常用筛选"),
    ):
        assert english in html and chinese not in html
