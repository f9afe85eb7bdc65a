"""Posts and party organisations: who may set them up where, and what they then grant."""

import datetime as dt

import pytest

from linli.audit.models import ChangeRecord
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access, selectors, services
from linli.org.access import Cap
from linli.org.models import Post
from linli.registry.models import Resident
from linli.testing.factories import UserFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 1, 1)


def manage_scope(world, role):
    return access.scope_for(world.users[role], Cap.ORG_MANAGE)


def test_secretary_assigns_a_grid_worker_in_own_community_and_it_grants_scope(world):
    grid = world.g2  # in the secretary's community c2
    newcomer = UserFactory(username="new_gw")
    post = services.post_assign(
        actor=world.users["secretary"],
        scope=manage_scope(world, "secretary"),
        kind="grid_worker",
        place=grid,
        user=newcomer,
        full_time=False,
        started_on=TODAY,
    )
    assert post.grid == grid and not post.full_time
    seen = set(access.visible(newcomer, Cap.VIEW, Resident.objects.all()))
    assert seen == {world.residents["g2"]}
    assert ChangeRecord.objects.filter(entity="org.post", entity_id=post.pk, action="create").exists()


def test_secretary_cannot_assign_outside_community_and_nothing_is_written(world):
    with pytest.raises(PermissionDenied):
        services.post_assign(
            actor=world.users["secretary"],
            scope=manage_scope(world, "secretary"),
            kind="grid_worker",
            place=world.g1a,
            user=UserFactory(username="x"),
            started_on=TODAY,
        )
    with pytest.raises(PermissionDenied):  # a community secretary cannot create street-level posts
        services.post_assign(
            actor=world.users["secretary"],
            scope=manage_scope(world, "secretary"),
            kind="street_staff",
            place=world.street1,
            user=UserFactory(username="y"),
            started_on=TODAY,
        )
    assert not Post.objects.filter(user__username__in=["x", "y"]).exists()
    assert not ChangeRecord.objects.exists()


def test_post_must_sit_on_the_right_kind_of_place(world):
    with pytest.raises(LinliError, match="网格员"):
        services.post_assign(
            actor=None,
            scope=manage_scope(world, "county_admin"),
            kind="grid_worker",
            place=world.c1,
            user=UserFactory(username="z"),
            started_on=TODAY,
        )


def test_ending_a_post_removes_its_scope(world):
    user = world.users["grid_worker"]
    post = Post.objects.get(user=user)
    services.post_end(actor=None, scope=manage_scope(world, "county_admin"), post=post, ended_on=TODAY)
    user = type(user).objects.get(pk=user.pk)  # a fresh object: the post cache lives on the instance
    assert access.scope_for(user, Cap.VIEW).empty
    with pytest.raises(LinliError):
        services.post_end(actor=None, scope=manage_scope(world, "county_admin"), post=post, ended_on=TODAY)


def test_party_tree_levels_are_enforced(world):
    scope = manage_scope(world, "county_admin")
    wc = services.party_org_create(
        actor=None,
        scope=scope,
        name="东城街道党工委",
        level="working_committee",
        place=world.street1,
        parent=None,
    )
    committee = services.party_org_create(
        actor=None, scope=scope, name="东安社区党委", level="committee", place=world.c1, parent=wc
    )
    branch = services.party_org_create(
        actor=None, scope=scope, name="东安一区党支部", level="branch", place=world.g1a, parent=committee
    )
    with pytest.raises(LinliError, match="上级"):
        services.party_org_create(
            actor=None, scope=scope, name="错误", level="branch", place=world.g1b, parent=wc
        )
    member = services.party_member_set(
        actor=None, scope=scope, resident=world.residents["g1a"], org=branch, central_household=True
    )
    assert member.central_household
    assert list(selectors.party_members(scope=access.scope_for(world.users["grid_worker"], Cap.VIEW))) == [
        member
    ]
    assert list(selectors.party_members(scope=access.scope_for(world.users["secretary"], Cap.VIEW))) == []
    c1_orgs = set(selectors.party_orgs(scope=access.scope_for(world.users["community_worker"], Cap.VIEW)))
    assert c1_orgs == {committee, branch}


def test_posts_list_is_scoped(world):
    street_posts = set(selectors.posts_list(scope=access.scope_for(world.users["street_staff"], Cap.VIEW)))
    kinds = {p.kind for p in street_posts}
    assert "county_admin" not in kinds and "secretary" in kinds and "grid_worker" in kinds
    assert "department_handler" not in kinds  # the department hangs on the county, above the street
