"""账号管理 pages and the person search of 设置岗位 (issue #12 item 3): roles, area scoping, the temporary password
shown once, deactivation with its confirmation, escaping of searched names."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.accounts.models import User
from linli.audit.models import ChangeRecord
from linli.cases import services as case_services
from linli.cases.models import Case
from linli.org.models import Post
from linli.testing.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def login(client: Client, world, role: str) -> Client:
    client.force_login(world.users[role])
    return client


def new_account(world, place=None, **overrides) -> dict:
    data = {
        "username": "wangwu",
        "display_name": "王五",
        "phone": "13912345678",
        "kind": "grid_worker",
        "place_type": "grid",
        "place": (place or world.g2).pk,
        "full_time": "on",
        "started_on": timezone.localdate().isoformat(),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("role", "status"), [("secretary", 200), ("county_admin", 200), ("superuser", 200)])
def test_managers_open_the_account_pages(client, world, role, status):
    c = login(client, world, role)
    assert c.get(reverse("console:staff")).status_code == status
    assert c.get(reverse("console:staff_new")).status_code == status
    assert (
        f'href="{reverse("console:staff")}"' in c.get(reverse("console:residents")).content.decode()
    )  # menu


@pytest.mark.parametrize(
    "role", ["community_worker", "grid_worker", "street_staff", "department_handler", "no_post"]
)
def test_other_roles_get_403_and_cannot_create(client, world, role):
    c = login(client, world, role)
    assert c.get(reverse("console:staff")).status_code == 403
    response = c.post(reverse("console:staff_new"), new_account(world))
    assert response.status_code == 403
    assert not User.objects.filter(username="wangwu").exists()


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("console:staff"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_list_shows_only_the_area_with_masked_phones_search_and_pages(client, world):
    c = login(client, world, "secretary")
    c.post(reverse("console:staff_new"), new_account(world))
    html = c.get(reverse("console:staff")).content.decode()
    assert "wangwu" in html and "139****5678" in html and "13912345678" not in html
    assert "grid_worker" not in html.split('id="staff"')[1]  # c1's grid worker is not in c2's list
    for n in range(55):
        PostFactory(
            kind="building_captain", building=world.households["g2"].building, user__username=f"cap{n:02d}"
        )
    first = c.get(reverse("console:staff"), {"q": "cap"})
    assert first.context["page"].paginator.count == 55 and len(first.context["rows"]) == 50
    second = c.get(reverse("console:staff"), {"q": "cap", "page": 2})
    assert [r.user.username for r in second.context["rows"]] == ["cap50", "cap51", "cap52", "cap53", "cap54"]
    assert c.get(reverse("console:staff"), {"page": "999999"}).status_code == 200
    assert c.get(reverse("console:staff"), {"status": "bogus"}).context["status"] == "active"


def test_creating_shows_the_temporary_password_once_and_forces_a_change(client, world):
    c = login(client, world, "secretary")
    response = c.post(reverse("console:staff_new"), new_account(world))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    temporary = response.context["temporary"]
    assert temporary in response.content.decode()
    user = User.objects.get(username="wangwu")
    assert Post.objects.get(user=user).grid == world.g2 and user.must_change_password
    assert temporary not in c.get(reverse("console:staff")).content.decode()  # never shown again
    fresh = Client()
    fresh.post("/accounts/login/", {"username": "wangwu", "password": temporary})
    assert fresh.get("/residents/")["Location"].startswith("/accounts/password/")


def test_create_errors_stay_next_to_the_form_and_write_nothing(client, world):
    c = login(client, world, "secretary")
    taken = c.post(reverse("console:staff_new"), new_account(world, username="GRID_WORKER"))
    assert taken.status_code == 400 and "已被使用" in taken.content.decode()
    outside = c.post(reverse("console:staff_new"), new_account(world, place=world.g1a))  # c1's grid
    assert outside.status_code == 403 and "不在您的管辖范围内" in outside.content.decode()
    bad_phone = c.post(reverse("console:staff_new"), new_account(world, phone="12345"))
    assert bad_phone.status_code == 400 and "手机号格式不正确" in bad_phone.content.decode()
    too_high = c.post(
        reverse("console:staff_new"),
        new_account(world, kind="street_staff", place_type="region", place=world.c2),
    )
    assert too_high.status_code == 400
    nul = c.post(reverse("console:staff_new"), new_account(world, username="wang\x00wu"))
    assert nul.status_code == 400
    assert not User.objects.filter(username__startswith="wang").exists()
    assert not ChangeRecord.objects.filter(entity="accounts.user").exists()


def test_deactivation_asks_first_names_the_posts_and_open_cases_then_ends_them(client, world, categories):
    target = world.users["grid_worker"]
    case = case_services.case_create(
        channel="qr_resident", category=categories["garbage"], grid=world.g1a, description="垃圾桶满了"
    )
    Case.objects.filter(pk=case.pk).update(handler_user=target, status="assigned")
    c = login(client, world, "county_admin")
    confirm = c.get(reverse("console:staff_deactivate", args=[target.pk]))
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "网格员" in html and "东安一区" in html and case.number in html
    assert User.objects.get(pk=target.pk).is_active  # asking changes nothing
    response = c.post(reverse("console:staff_deactivate", args=[target.pk]), follow=True)
    assert "结束岗位 1 个" in response.content.decode() and "1 件未办结诉求" in response.content.decode()
    target.refresh_from_db()
    assert not target.is_active and not Post.objects.not_ended().filter(user=target).exists()
    assert (
        Case.objects.get(pk=case.pk).handler_user_id == target.pk
    )  # not moved silently: the message says so
    inactive = c.get(reverse("console:staff"), {"status": "inactive"}).content.decode()
    assert "grid_worker" in inactive and reverse("console:staff_reactivate", args=[target.pk]) in inactive
    c.post(reverse("console:staff_reactivate", args=[target.pk]))
    assert User.objects.get(pk=target.pk).is_active


@pytest.mark.parametrize(("role", "target"), [("secretary", "grid_worker"), ("secretary", "county_admin")])
def test_accounts_outside_ones_authority_are_not_found(client, world, role, target):
    c = login(client, world, role)
    pk = world.users[target].pk
    assert c.get(reverse("console:staff_deactivate", args=[pk])).status_code == 404
    assert c.post(reverse("console:staff_deactivate", args=[pk])).status_code == 404
    assert c.post(reverse("console:staff_reactivate", args=[pk])).status_code == 404
    assert User.objects.get(pk=pk).is_active


@pytest.fixture
def categories(db):
    import importlib

    from django.apps import apps as django_apps

    from linli.cases.models import Category

    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


# ------------------------------------------------------------------------- 设置岗位: the person search


def test_the_person_search_lists_only_accounts_one_may_give_a_post_escaped(client, world):
    UserFactory(username="fresh_one", display_name="<script>alert(1)</script>新人")
    PostFactory(
        kind="grid_worker", grid=world.g2, user__username="g2_worker", user__display_name="双河网格员"
    )
    c = login(client, world, "secretary")
    html = c.get(reverse("console:org_post_people"), {"username_q": "g"}).content.decode()
    assert 'value="g2_worker"' in html and 'value="grid_worker"' not in html  # c1's worker is out of reach
    html = c.get(reverse("console:org_post_people"), {"username_q": "新人"}).content.decode()
    assert 'value="fresh_one"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert c.get(reverse("console:org_post_people"), {"username_q": ""}).content.decode().strip() == ""
    assert (
        login(Client(), world, "community_worker").get(reverse("console:org_post_people")).status_code == 403
    )


def test_the_assign_form_searches_instead_of_a_typed_login_and_refuses_other_areas(client, world):
    c = login(client, world, "secretary")
    page = c.get(reverse("console:org_posts")).content.decode()
    assert 'name="username_q"' in page and reverse("console:org_post_people") in page
    data = {
        "kind": "grid_worker",
        "username": "grid_worker",  # holds a post in c1 only
        "place_type": "grid",
        "place": world.g2.pk,
        "full_time": "on",
        "started_on": timezone.localdate().isoformat(),
    }
    response = c.post(reverse("console:org_post_assign"), data)
    assert response.status_code == 400 and "不在您的管辖范围内" in response.content.decode()
    assert not Post.objects.filter(grid=world.g2).exists()
    PostFactory(kind="building_captain", building=world.households["g2"].building, user__username="captain2")
    assert c.post(reverse("console:org_post_assign"), {**data, "username": "captain2"}).status_code == 302
    assert Post.objects.filter(grid=world.g2, user__username="captain2", kind="grid_worker").exists()


def test_everyone_reaches_their_own_password_change_from_the_header(client, world):
    html = login(client, world, "grid_worker").get(reverse("console:residents")).content.decode()
    assert f'href="{reverse("accounts:password_change")}"' in html
