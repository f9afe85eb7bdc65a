"""The demo county: deterministic, idempotent, valid ID numbers, every place staffed and scoped."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.db import transaction

from linli.accounts.models import User
from linli.core.crypto import cipher
from linli.core.idcard import parse_id_number
from linli.ops.demo import DEMO_PASSWORD, demo_communities, format_logins, seed_demo
from linli.org.access import Cap, scope_for
from linli.org.choices import PartyOrgLevel, PostKind
from linli.org.models import Department, PartyMember, PartyOrg, Post
from linli.registry.choices import Relation
from linli.registry.models import (
    Building,
    Grid,
    Household,
    Region,
    Residence,
    Resident,
    ResidentKeyGroup,
    Unit,
)
from linli.registry.validation import id_digest

SMALL = {"residents": 500, "grids": 12, "communities": 4}
MODELS = [
    Region,
    Grid,
    Building,
    Unit,
    Household,
    Resident,
    ResidentKeyGroup,
    Residence,
    User,
    Post,
    PartyOrg,
    PartyMember,
    Department,
]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def people() -> list[tuple[str, str, str]]:
    return sorted(Resident.objects.values_list("id_digest", "name", "household__address"))


@pytest.fixture
def demo(db):
    return seed_demo(seed=7, **SMALL)


def test_seeds_the_requested_county(demo):
    assert demo.created
    assert Resident.objects.count() == 500
    assert Grid.objects.count() == 12
    assert Region.objects.get(code="371702").name == "牡丹区"
    communities = demo_communities(4)
    assert {g.community_id for g in Grid.objects.all()} == {c.pk for c in communities}
    assert all(c.name.endswith("社区居民委员会") and c.code.startswith("371702") for c in communities)
    for grid in Grid.objects.all():
        assert grid.boundary["type"] == "Polygon"
        ring = grid.boundary["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 7
        assert 35.0 < grid.centroid_lat < 35.5 and 115.2 < grid.centroid_lng < 115.8
        assert 2 <= grid.buildings.count() <= 12
    assert all(1 <= b.units.count() <= 4 and b.name.endswith("号楼") for b in Building.objects.all())


def test_every_id_number_is_valid_and_matches_the_record(demo):
    c = cipher()
    for r in Resident.objects.all():
        number = c.decrypt(r.id_cipher)
        info = parse_id_number(number)
        assert info.birth_date == r.birth_date and info.sex == r.sex
        assert r.id_digest == id_digest(number) and r.id_last4 == number[-4:]
        assert r.id_masked == number[:6] + "********" + number[-4:]
        assert r.name[0] and 2 <= len(r.name) <= 4
        if r.phone_cipher:
            assert len(c.decrypt(r.phone_cipher)) == 11


def test_households_have_exactly_one_head(demo):
    for hh in Household.objects.prefetch_related("residents"):
        relations = [r.relation for r in hh.residents.all()]
        assert relations.count(Relation.HEAD) == 1, hh.address
        assert hh.address.endswith(f"{hh.door_number}室")
    assert Household.objects.filter(last_verified_at__isnull=False).exists()
    assert Household.objects.filter(last_verified_at__isnull=True).exists()


def test_every_community_and_grid_is_staffed(demo):
    for community in demo_communities(4):
        kinds = set(Post.objects.filter(region=community, user__isnull=False).values_list("kind", flat=True))
        assert {PostKind.SECRETARY, PostKind.COMMUNITY_WORKER} <= kinds
    for grid in Grid.objects.all():
        assert Post.objects.filter(grid=grid, kind=PostKind.GRID_WORKER, user__isnull=False).count() == 1
        assert PartyOrg.objects.filter(
            grid=grid, level=PartyOrgLevel.BRANCH, parent__level=PartyOrgLevel.COMMITTEE
        )
    assert Post.objects.filter(kind=PostKind.GRID_WORKER, full_time=False).exists()
    assert Post.objects.filter(kind=PostKind.COUNTY_ADMIN, region__code="371702").count() == 1
    assert Department.objects.filter(region__code="371702", name="住建局").exists()
    assert PartyMember.objects.exists()
    assert all(m.org.level == PartyOrgLevel.GROUP for m in PartyMember.objects.select_related("org"))
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and check_password(DEMO_PASSWORD, admin.password)


def test_demo_logins_see_what_their_post_allows(demo):
    worker = User.objects.get(username="grid001")
    grid = Post.objects.get(user=worker).grid
    seen = scope_for(worker, Cap.VIEW).apply(Resident.objects.all())
    assert set(seen.values_list("pk", flat=True)) == set(
        Resident.objects.filter(grid=grid).values_list("pk", flat=True)
    )
    assert seen.count() < Resident.objects.count()

    cw = User.objects.get(username="cw01")
    community = Post.objects.get(user=cw).region
    assert set(
        scope_for(cw, Cap.VIEW).apply(Resident.objects.all()).values_list("grid__community", flat=True)
    ) == {community.pk}
    street = User.objects.get(username="street01")
    street_region = Post.objects.get(user=street).region
    visible = scope_for(street, Cap.VIEW).apply(Resident.objects.all())
    assert visible.exists() and not visible.exclude(grid__community__parent=street_region).exists()
    county = User.objects.get(username="county")
    assert scope_for(county, Cap.VIEW).apply(Resident.objects.all()).count() == 500
    handler = User.objects.get(username="dept_zhujian")
    assert scope_for(handler, Cap.VIEW).empty


def test_second_run_changes_nothing(demo):
    before = counts()
    snapshot = people()
    again = seed_demo(seed=7, **SMALL)
    assert not again.created
    assert counts() == before and people() == snapshot
    assert [x.username for x in again.logins] == [x.username for x in demo.logins]


def test_same_seed_gives_the_same_people(db):
    def seeded(seed: int) -> list[tuple[str, str, str]]:
        with transaction.atomic():
            seed_demo(seed=seed, **SMALL)
            result = people()
            transaction.set_rollback(True)
        return result

    first = seeded(11)
    assert Resident.objects.count() == 0  # rolled back
    assert seeded(11) == first
    assert seeded(12) != first


def test_logins_table_names_the_password_and_posts(demo):
    text = format_logins(demo.logins)
    assert DEMO_PASSWORD in text
    for username in ("admin", "county", "street01", "sec01", "cw01", "grid001", "captain01", "property01"):
        assert f"  {username} " in text
    assert "社区书记" in text and "网格员" in text


def test_demo_command_without_serving(db):
    out = io.StringIO()
    call_command("linli_demo", "--no-serve", "--residents", "300", "--seed", "3", stdout=out)
    assert Resident.objects.count() == 300
    assert "linli-demo-2026" in out.getvalue() and "grid001" in out.getvalue()
    out = io.StringIO()
    call_command("linli_demo", "--no-serve", "--residents", "300", stdout=out)
    assert "未做任何修改" in out.getvalue()
    assert Resident.objects.count() == 300


def test_demo_case_history_is_consistent(demo):
    from linli.cases.choices import Status
    from linli.cases.models import Case, CaseEvent

    cases = list(Case.objects.all())
    assert len(cases) >= 1000
    assert len({c.number for c in cases}) == len(cases)
    closed = [c for c in cases if c.status == Status.CLOSED]
    assert closed and all(c.satisfaction for c in closed)
    for c in cases:
        if c.accepted_at is not None and c.accept_overdue is not None:
            assert c.accept_overdue == (c.accepted_at > c.accept_due_at)
        if c.status == Status.CLOSED and c.reopened_count == 0:
            assert c.resolve_overdue == (c.resolved_at > c.resolve_due_at)
    first = {}
    for e in CaseEvent.objects.order_by("id"):
        first.setdefault(e.case_id, e.kind)
    assert set(first.values()) == {"create"} and len(first) == len(cases)
    # the live ones went through the real intake (its audit row): open, with deadlines after their report;
    # the classifier trained from the history routed the confident ones at once
    from linli.audit.models import ChangeRecord

    live_ids = set(
        ChangeRecord.objects.filter(entity="cases.case", action="create", source="demo").values_list(
            "entity_id", flat=True
        )
    )
    live = [c for c in cases if c.pk in live_ids]
    assert len(live) >= 24
    manager = User.objects.get(username="property01")
    # waiting for triage, or (物业服务 appeals of the property manager's compound) assigned to the manager at once
    assert all(
        c.status in (Status.SUBMITTED, Status.TRIAGED)
        or (c.status == Status.ASSIGNED and c.handler_user_id == manager.pk)
        for c in live
    )
    assert all(c.accept_due_at > c.created_at for c in live)
    assert any(c.status == Status.TRIAGED for c in live)


def test_the_demo_property_manager_has_appeals_to_handle(demo):
    """The printed 物业经理 login (issue #12 item 5): live 物业服务 appeals of its compound routed to it, besides
    its share of the history; nothing of the grid's other cases."""
    from linli.cases import selectors as case_selectors
    from linli.cases.models import Case

    manager = User.objects.get(username="property01")
    assert case_selectors.my_queue(manager).open >= 2
    scope = scope_for(manager, Cap.CASE_VIEW)
    seen = scope.apply(Case.objects.all())
    grid = Post.objects.get(user=manager).grid
    assert seen.exists() and set(seen.values_list("handler_user", flat=True)) == {manager.pk}
    assert Case.objects.filter(grid=grid).exclude(handler_user=manager).exists()  # the rest stay unseen
    assert scope_for(manager, Cap.VIEW).empty
