"""Staff accounts of an area (issue #12 item 3, ``linli.org.staff``): who may create, see, deactivate and reactivate
which accounts (area and rank rules), the temporary password, and what deactivation does to posts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from linli.accounts.models import User
from linli.audit.models import ChangeRecord
from linli.core.crypto import cipher
from linli.core.errors import LinliError, PermissionDenied
from linli.org import staff
from linli.org.models import Post
from linli.registry.models import Region
from linli.testing.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def create(world, actor="secretary", **overrides):
    kwargs = {
        "actor": world.users[actor],
        "username": "zhangsan",
        "display_name": "张三",
        "kind": "grid_worker",
        "place": world.g2,  # community c2: the secretary's
        "started_on": TODAY,
        "phone": "13812345678",
    }
    kwargs.update(overrides)
    return staff.account_create(**kwargs)


def test_a_secretary_creates_an_account_with_its_first_post_and_a_temporary_password(world):
    user, temporary = create(world)
    user.refresh_from_db()
    assert user.username == "zhangsan" and user.display_name == "张三" and user.is_active
    assert user.must_change_password and user.check_password(temporary)
    post = Post.objects.get(user=user)
    assert (post.kind, post.grid, post.started_on) == ("grid_worker", world.g2, TODAY)
    # The phone is stored encrypted; only its masked form is readable.
    assert user.phone_masked == "138****5678"
    assert "13812345678" not in user.phone_cipher and cipher().decrypt(user.phone_cipher) == "13812345678"
    record = ChangeRecord.objects.get(entity="accounts.user", entity_id=user.pk, action="create")
    assert record.actor == world.users["secretary"] and record.after["post_id"] == post.pk
    assert temporary not in str(record.after) and "13812345678" not in str(record.after)


def test_each_temporary_password_is_new_and_the_first_login_must_replace_it(world):
    _user, first = create(world)
    _again, second = create(world, username="lisi")
    assert first != second
    client = Client()
    assert client.post("/accounts/login/", {"username": "zhangsan", "password": first}).status_code == 302
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/password/")


@pytest.mark.parametrize(
    ("actor", "kind", "place", "message"),
    [
        ("secretary", "grid_worker", "g1a", "不在您的管辖范围内"),  # another community's grid
        ("secretary", "street_staff", "street1", "不在您的管辖范围内"),  # above the community
        ("secretary", "secretary", "c2", None),  # a peer post is allowed: rank "at or below"
        ("community_worker", "grid_worker", "g1a", "只有社区书记"),  # no org.manage
        ("grid_worker", "building_captain", "g1a", "只有社区书记"),
    ],
)
def test_posts_above_ones_rank_or_outside_ones_area_are_refused_and_nothing_is_written(
    world, actor, kind, place, message
):
    target = {"g1a": world.g1a, "street1": world.street1, "c2": world.c2}[place]
    users_before = User.objects.count()
    if message is None:
        user, _temporary = create(world, actor=actor, kind=kind, place=target)
        assert Post.objects.get(user=user).kind == kind
        return
    with pytest.raises(PermissionDenied, match=message):
        create(world, actor=actor, kind=kind, place=target)
    assert User.objects.count() == users_before
    assert not User.objects.filter(username="zhangsan").exists()
    assert not ChangeRecord.objects.filter(entity="accounts.user").exists()


def test_a_county_admin_cannot_create_a_city_admin(world):
    city = Region.objects.create(code="371700", name="菏泽市", level="city")
    with pytest.raises(PermissionDenied):
        create(world, actor="county_admin", kind="city_admin", place=city)
    assert not User.objects.filter(username="zhangsan").exists()


@pytest.mark.parametrize(
    ("username", "display_name", "message"),
    [
        ("Grid_Worker", "张三", "已被使用"),  # taken, whatever the case
        ("zh", "张三", "3–150"),
        ("zhang san", "张三", "只能包含"),
        ("zhangsan", "  ", "请填写姓名"),
        ("zhangsan", "张" * 65, "不能超过"),
    ],
)
def test_bad_login_names_and_names_are_refused_with_a_chinese_message(world, username, display_name, message):
    with pytest.raises(LinliError, match=message):
        create(world, username=username, display_name=display_name)
    assert not Post.objects.filter(grid=world.g2).exists()


def usernames(qs) -> set[str]:
    return set(qs.values_list("username", flat=True))


def test_accounts_in_area_follow_the_posts_of_the_managers_area(world):
    PostFactory(kind="grid_worker", grid=world.g2, user__username="g2_worker")
    assert usernames(staff.accounts_in_area(world.users["secretary"])) == {"secretary", "g2_worker"}
    county = usernames(staff.accounts_in_area(world.users["county_admin"]))
    assert {"grid_worker", "g2_worker", "secretary", "street_staff", "department_handler"} <= county
    assert "superuser" not in county and "no_post" not in county
    assert usernames(staff.accounts_in_area(world.users["county_admin"], q="G2_W")) == {"g2_worker"}
    assert "superuser" in usernames(staff.accounts_in_area(world.users["superuser"]))
    with pytest.raises(PermissionDenied):
        staff.accounts_in_area(world.users["community_worker"])


def test_people_for_posts_adds_accounts_that_never_held_a_post_but_not_other_areas(world):
    UserFactory(username="fresh")
    ended_elsewhere = PostFactory(
        kind="grid_worker", grid=world.g1a, user__username="was_in_c1", ended_on=TODAY - dt.timedelta(days=3)
    ).user
    found = usernames(staff.people_for_posts(world.users["secretary"]))
    assert "fresh" in found and "secretary" in found
    assert "grid_worker" not in found and ended_elsewhere.username not in found and "superuser" not in found
    assert staff.person_for_post(world.users["secretary"], "grid_worker") is None
    assert staff.person_for_post(world.users["secretary"], "fresh") is not None


def test_deactivating_ends_every_post_today_and_stops_the_sessions(world):
    target = world.users["grid_worker"]
    future_end = PostFactory(
        kind="building_captain",
        building=world.households["g1a"].building,
        user=target,
        ended_on=TODAY + dt.timedelta(days=30),
    )
    session = Client()
    session.force_login(target)
    assert session.get("/accounts/password/").status_code == 200
    ended = staff.account_deactivate(actor=world.users["county_admin"], target=target)
    assert len(ended) == 2
    target.refresh_from_db()
    assert not target.is_active
    assert not Post.objects.not_ended().filter(user=target).exists()
    future_end.refresh_from_db()
    assert future_end.ended_on == TODAY  # a later end is brought forward
    assert ChangeRecord.objects.filter(entity="org.post", action="update").count() == 2
    record = ChangeRecord.objects.get(entity="accounts.user", entity_id=target.pk)
    assert record.after["is_active"] is False and set(record.after["ended_posts"]) == {p.pk for p in ended}
    assert session.get("/accounts/password/").status_code == 302  # the open session is over
    with pytest.raises(LinliError, match="已停用"):
        staff.account_deactivate(actor=world.users["county_admin"], target=target)


@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("secretary", "grid_worker"),  # another community
        ("secretary", "county_admin"),  # above
        ("county_admin", "superuser"),
        ("county_admin", "county_admin"),  # oneself
        ("community_worker", "grid_worker"),  # no org.manage
    ],
)
def test_deactivation_outside_ones_authority_is_refused(world, actor, target):
    user = world.users[target]
    with pytest.raises(PermissionDenied):
        staff.account_deactivate(actor=world.users[actor], target=user)
    user.refresh_from_db()
    assert user.is_active
    assert Post.objects.not_ended().filter(user=user).count() == (0 if target == "superuser" else 1)
    assert not ChangeRecord.objects.exists()


def test_a_reactivated_account_keeps_its_posts_ended_and_stays_in_reach_of_its_area(world):
    target = PostFactory(kind="grid_worker", grid=world.g2, user__username="g2_worker").user
    secretary = world.users["secretary"]
    staff.account_deactivate(actor=secretary, target=target)
    assert usernames(staff.accounts_in_area(secretary, status="inactive")) == {"g2_worker"}
    assert staff.person_for_post(secretary, "g2_worker") is None  # deactivated: no post for it
    staff.account_reactivate(actor=secretary, target=target)
    target.refresh_from_db()
    assert target.is_active and not Post.objects.not_ended().filter(user=target).exists()
    assert staff.person_for_post(secretary, "g2_worker") == target  # ready for a new post
    assert staff.manageable_account(secretary, target.pk) == target
    assert staff.manageable_account(world.users["county_admin"], target.pk) == target
    with pytest.raises(LinliError, match="未停用"):
        staff.account_reactivate(actor=secretary, target=target)
    notes = list(
        ChangeRecord.objects.filter(entity="accounts.user", entity_id=target.pk).values_list(
            "note", flat=True
        )
    )
    assert sorted(notes) == ["deactivated by administrator", "reactivated by administrator"]


def test_account_rows_tell_which_accounts_the_actor_may_manage(world):
    rows = staff.account_rows(
        world.users["county_admin"], staff.accounts_in_area(world.users["county_admin"])
    )
    manageable = {row.user.username: row.manageable for row in rows}
    assert manageable["grid_worker"] and manageable["secretary"] and manageable["street_staff"]
    assert manageable["county_admin"] is False  # oneself
    assert {p.kind for p in next(r for r in rows if r.user.username == "grid_worker").posts} == {
        "grid_worker"
    }
