"""The level rule of ADR 0019: a post kind fits one level of place, nobody grants a post above their own, and the
installation-wide right (``Cap.CONFIGURE``) follows the level of the post's place, never its label."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from linli.audit.models import ChangeRecord
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.org import access, calendar, services
from linli.org.access import Cap
from linli.org.choices import POST_PLACE, PostKind
from linli.org.models import Post
from linli.registry.models import Region
from linli.testing.factories import DepartmentFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 1, 1)
FIELD = {"city": "region", "county": "region", "street": "region", "community": "region"}


def places(world) -> dict[str, object]:
    """One place of every type and region level."""
    city = Region.objects.create(code="3717", name="菏泽市", level="city")
    world.county.parent = city
    world.county.save(update_fields=["parent"])
    building = world.households["g1a"].building
    return {
        "city": city,
        "county": world.county,
        "street": world.street1,
        "community": world.c1,
        "grid": world.g1a,
        "building": building,
        "unit": building.units.first(),
        "department": DepartmentFactory(region=world.county, code="chengguan", name="城管局"),
    }


def fitting(kind: str) -> str:
    field, level = POST_PLACE[kind]
    return level or field


def assign(actor, kind, place, username="newcomer"):
    user = UserFactory(username=username)
    return services.post_assign(
        actor=actor,
        scope=access.scope_for(actor, Cap.ORG_MANAGE) if actor else Scope(everything=True),
        kind=kind,
        place=place,
        user=user,
        started_on=TODAY,
    )


def fresh(user):
    return type(user).objects.get(pk=user.pk)  # the post cache lives on the instance


@pytest.mark.parametrize("kind", list(PostKind.values))
def test_each_kind_fits_exactly_one_level_of_place(world, kind):
    all_places = places(world)
    for name, place in all_places.items():
        before = Post.objects.count()
        if name == fitting(kind):
            post = assign(None, kind, place, username=f"u-{name}")
            assert post.kind == kind
            post.full_clean()  # the model mirrors the rule
        else:
            with pytest.raises(LinliError, match="只能设在"):
                assign(None, kind, place, username=f"u-{name}")
            assert Post.objects.count() == before
            wrong = Post(kind=kind, user=UserFactory(username=f"m-{name}"), started_on=TODAY)
            setattr(wrong, FIELD.get(name, name), place)
            with pytest.raises(ValidationError, match="只能设在"):
                wrong.full_clean()


def test_secretary_cannot_make_itself_county_admin_on_its_community(world):
    """The reproduction of issue #9: sec01 POSTs kind=county_admin on its own community."""
    secretary = world.users["secretary"]
    before = (Post.objects.count(), ChangeRecord.objects.count())
    with pytest.raises(LinliError):
        services.post_assign(
            actor=secretary,
            scope=access.scope_for(secretary, Cap.ORG_MANAGE),
            kind=PostKind.COUNTY_ADMIN,
            place=world.c2,
            user=secretary,
            started_on=TODAY,
        )
    assert (Post.objects.count(), ChangeRecord.objects.count()) == before
    assert not calendar.can_edit_calendar(fresh(secretary))


@pytest.mark.parametrize(
    ("kind", "place"),
    [
        (PostKind.COUNTY_ADMIN, "county"),  # above the secretary, and outside its community
        (PostKind.STREET_STAFF, "street1"),
        (PostKind.SECRETARY, "c1"),  # its own rank, another community
        (PostKind.GRID_WORKER, "g1a"),
    ],
)
def test_secretary_cannot_grant_above_or_outside(world, kind, place):
    before = (Post.objects.count(), ChangeRecord.objects.count())
    with pytest.raises(PermissionDenied):
        assign(world.users["secretary"], kind, getattr(world, place))
    assert (Post.objects.count(), ChangeRecord.objects.count()) == before


@pytest.mark.parametrize(
    ("kind", "place"),
    [(PostKind.SECRETARY, "c2"), (PostKind.COMMUNITY_WORKER, "c2"), (PostKind.GRID_WORKER, "g2")],
)
def test_secretary_grants_community_posts_and_below_in_its_community(world, kind, place):
    post = assign(world.users["secretary"], kind, getattr(world, place))
    assert ChangeRecord.objects.filter(entity="org.post", entity_id=post.pk, action="create").exists()


def test_county_admin_grants_up_to_its_own_rank_but_not_a_city_admin(world):
    all_places = places(world)
    admin = world.users["county_admin"]
    assert assign(admin, PostKind.COUNTY_ADMIN, world.county, "second_admin").region == world.county
    assert assign(admin, PostKind.STREET_STAFF, world.street2, "street2_staff").region == world.street2
    before = Post.objects.count()
    with pytest.raises(PermissionDenied):
        assign(admin, PostKind.CITY_ADMIN, all_places["city"], "would_be_city")
    assert Post.objects.count() == before


def test_a_city_admin_grants_a_county_admin(world):
    city = places(world)["city"]
    holder = PostFactory(kind=PostKind.CITY_ADMIN, region=city, user__username="city").user
    assert assign(holder, PostKind.COUNTY_ADMIN, world.county).region == world.county


def test_grantable_kinds_per_role(world):
    kinds = {role: set(services.grantable_kinds(world.users[role])) for role in world.users}
    assert kinds["superuser"] == set(PostKind.values)
    assert kinds["county_admin"] == set(PostKind.values) - {PostKind.CITY_ADMIN}
    assert kinds["secretary"] == {
        PostKind.SECRETARY,
        PostKind.COMMUNITY_WORKER,
        PostKind.DEPARTMENT_HANDLER,
        PostKind.GRID_WORKER,
        PostKind.PROPERTY_MANAGER,
        PostKind.OWNERS_COMMITTEE,
        PostKind.BUILDING_CAPTAIN,
        PostKind.UNIT_CAPTAIN,
    }
    for role in ("street_staff", "community_worker", "grid_worker", "department_handler", "no_post"):
        assert kinds[role] == set(), role


def test_a_misplaced_admin_post_grants_no_configuration_and_no_authority(world):
    """A county_admin post left on a community (as the hole of issue #9 made them) is a local post only."""
    holder = PostFactory(kind=PostKind.COUNTY_ADMIN, region=world.c2, user__username="misplaced").user
    assert not access.can_configure(holder)
    assert Cap.CONFIGURE not in access.capabilities(holder)
    assert not calendar.can_edit_calendar(holder)
    assert services.grantable_kinds(holder) == []
    with pytest.raises(PermissionDenied):
        assign(holder, PostKind.GRID_WORKER, world.g2)
    with pytest.raises(PermissionDenied):
        calendar.calendar_day_set(actor=holder, day=TODAY, is_workday=False)


@pytest.mark.parametrize(
    ("role", "configures"),
    [
        ("superuser", True),
        ("county_admin", True),
        ("secretary", False),
        ("street_staff", False),
        ("community_worker", False),
        ("grid_worker", False),
        ("department_handler", False),
        ("no_post", False),
    ],
)
def test_configuration_capability(world, role, configures):
    assert access.can_configure(world.users[role]) is configures
    assert calendar.can_edit_calendar(world.users[role]) is configures


def test_ending_a_post_follows_the_same_rank_rule(world):
    misplaced = PostFactory(kind=PostKind.COUNTY_ADMIN, region=world.c2, user__username="misplaced")
    secretary = world.users["secretary"]
    with pytest.raises(PermissionDenied):
        services.post_end(
            actor=secretary,
            scope=access.scope_for(secretary, Cap.ORG_MANAGE),
            post=misplaced,
            ended_on=TODAY,
        )
    misplaced.refresh_from_db()
    assert misplaced.ended_on is None
    admin = world.users["county_admin"]
    services.post_end(
        actor=admin, scope=access.scope_for(admin, Cap.ORG_MANAGE), post=misplaced, ended_on=TODAY
    )
    misplaced.refresh_from_db()
    assert misplaced.ended_on == TODAY
