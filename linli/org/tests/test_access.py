"""The scoping layer, role by role: which residents each post sees, and which capabilities it has."""

import datetime as dt

import pytest

from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Resident
from linli.testing.factories import PostFactory

pytestmark = pytest.mark.django_db

# role → grids whose residents it sees
EXPECTED_VIEW = {
    "grid_worker": {"g1a"},
    "building_captain": {"g1b"},
    "community_worker": {"g1a", "g1b"},
    "secretary": {"g2"},
    "street_staff": {"g1a", "g1b", "g2"},
    "county_admin": {"g1a", "g1b", "g2", "g3"},
    "department_handler": set(),
    "property_manager": set(),
    "no_post": set(),
    "superuser": {"g1a", "g1b", "g2", "g3"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED_VIEW))
def test_view_scope_per_role(world, role):
    user = world.users[role]
    visible = set(access.visible(user, Cap.VIEW, Resident.objects.all()).values_list("pk", flat=True))
    expected = {world.residents[g].pk for g in EXPECTED_VIEW[role]}
    assert visible == expected
    for key, resident in world.residents.items():
        assert access.can(user, Cap.VIEW, resident) is (key in EXPECTED_VIEW[role])


@pytest.mark.parametrize(
    ("role", "caps"),
    [
        ("grid_worker", {Cap.VIEW, Cap.CHANGE, Cap.CASE_VIEW, Cap.CASE_HANDLE}),
        ("building_captain", {Cap.VIEW}),
        (
            "community_worker",
            {
                Cap.VIEW,
                Cap.CHANGE,
                Cap.IMPORT,
                Cap.EXPORT,
                Cap.REVEAL,
                Cap.CASE_VIEW,
                Cap.CASE_HANDLE,
                Cap.CASE_TRIAGE,
            },
        ),
        ("street_staff", {Cap.VIEW, Cap.EXPORT, Cap.CASE_VIEW, Cap.CASE_TRIAGE}),
        ("department_handler", {Cap.CASE_VIEW, Cap.CASE_HANDLE}),
        ("no_post", set()),
    ],
)
def test_capabilities_per_role(world, role, caps):
    assert access.capabilities(world.users[role]) == caps


def test_ended_post_grants_nothing(world):
    post = PostFactory(
        kind="community_worker", region=world.c3, ended_on=dt.date(2024, 6, 1), user__username="old"
    )
    assert access.scope_for(post.user, Cap.VIEW).empty
    assert not access.visible(post.user, Cap.VIEW, Resident.objects.all()).exists()


def test_cross_posts_union(world):
    """交叉任职: a grid worker in g3 who is also a building captain in g1b sees both, changes only g3."""
    user = PostFactory(kind="grid_worker", grid=world.g3, user__username="dual").user
    PostFactory(kind="building_captain", building=world.households["g1b"].building, user=user)
    seen = set(access.visible(user, Cap.VIEW, Resident.objects.all()).values_list("pk", flat=True))
    assert seen == {world.residents["g3"].pk, world.residents["g1b"].pk}
    assert access.can(user, Cap.CHANGE, world.residents["g3"])
    assert not access.can(user, Cap.CHANGE, world.residents["g1b"])


def test_require_raises_outside_scope(world):
    with pytest.raises(access.PermissionDenied):
        access.require(world.users["grid_worker"], Cap.VIEW, world.residents["g2"])
    with pytest.raises(access.PermissionDenied):
        access.require(world.users["grid_worker"], Cap.REVEAL)


def test_inactive_user_sees_nothing(world):
    user = world.users["county_admin"]
    user.is_active = False
    assert access.scope_for(user, Cap.VIEW).empty
