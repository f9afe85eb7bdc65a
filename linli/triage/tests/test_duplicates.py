"""Duplicate detection on hand-made cases with known answers, and the console's "可能重复" card."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from linli.cases import services
from linli.cases.models import Case
from linli.testing.factories import BuildingFactory, GridFactory
from linli.triage import duplicates
from linli.triage.duplicates import BUILDING, GRID, RADIUS, possible_duplicates

pytestmark = pytest.mark.django_db

LIFT = "3号楼电梯故障停运，老人上下楼困难，电梯坏了三天了没人修"
LIFT_AGAIN = "3号楼的电梯又坏了，故障停运两天，老人上下楼很困难"
NOISE = "楼上装修噪音太大，晚上十点还在电钻施工，吵得无法睡觉"
LAT, LNG = 36.0662, 120.3826


def _move(case: Case, **values) -> Case:
    Case.objects.filter(pk=case.pk).update(**values)
    case.refresh_from_db()
    return case


@pytest.fixture
def make_case(world, categories):
    """Create a case through the intake service (as the system), as ``linli.cases.tests.conftest`` does."""

    def make(grid=None, category="neighbour_dispute", **kwargs) -> Case:
        kwargs.setdefault("channel", "grid_worker")
        kwargs.setdefault("description", "楼道堆放杂物，影响通行")
        return services.case_create(category=categories[category], grid=grid or world.g1a, **kwargs)

    return make


@pytest.fixture
def building(world):
    return world.households["g1a"].building


def numbers(matches) -> list[str]:
    return [m.case.number for m in matches]


def test_same_building_near_identical_text_is_found_with_a_high_score(world, make_case, building):
    first = make_case(title="电梯故障", description=LIFT, building=building)
    unrelated = make_case(title="噪音", description=NOISE, building=building, category="noise")
    new = make_case(title="电梯又坏了", description=LIFT_AGAIN, building=building)
    found = possible_duplicates(new)
    assert numbers(found) == [first.number]
    match = found[0]
    assert match.place == BUILDING and match.same_category
    assert 0.8 <= match.score <= 1 and match.similarity > 0.6
    assert "同一楼栋" in match.why and "电梯" in match.terms
    assert unrelated.number not in numbers(found)


def test_same_grid_and_radius_rank_below_same_building(world, make_case, building):
    other_building = BuildingFactory(grid=world.g1a, name="9号楼")
    in_building = make_case(description=LIFT, building=building)
    in_grid = make_case(description=LIFT, building=other_building)
    far_grid = GridFactory(community=world.g1a.community, code="371702001001-09", name="东安九区")
    nearby = make_case(description=LIFT, grid=far_grid, lat=LAT + 0.0005, lng=LNG)  # ~56 m north
    new = make_case(description=LIFT_AGAIN, building=building, lat=LAT, lng=LNG)
    found = possible_duplicates(new)
    assert numbers(found) == [in_building.number, in_grid.number, nearby.number]
    assert [m.place for m in found] == [BUILDING, GRID, RADIUS]
    assert found[0].score > found[1].score > found[2].score
    assert 40 < found[2].distance_m < 70
    assert "相距 56 米" in found[2].why


def test_different_grid_and_far_away_is_not_found(world, make_case):
    far = make_case(description=LIFT, grid=world.g2, lat=LAT + 0.01, lng=LNG)  # ~1.1 km
    unplaced = make_case(description=LIFT, grid=world.g1b)
    new = make_case(description=LIFT_AGAIN, grid=world.g1a, lat=LAT, lng=LNG)
    assert possible_duplicates(new) == []
    assert far.number and unplaced.number


def test_different_text_in_the_same_building_stays_below_the_threshold(world, make_case, building):
    make_case(title="噪音", description=NOISE, building=building)
    new = make_case(description=LIFT, building=building)
    assert possible_duplicates(new) == []
    assert possible_duplicates(new, threshold=0.0)[0].score < 0.5


def test_closed_merged_and_itself_are_not_offered(world, make_case, building):
    closed = _move(make_case(description=LIFT, building=building), status="closed")
    target = make_case(description="楼道堆放杂物", building=building)
    merged = make_case(description=LIFT, building=building)
    services.transition(case=merged, action="merge", actor=None, version=merged.version, into=target)
    new = make_case(description=LIFT_AGAIN, building=building)
    found = numbers(possible_duplicates(new, threshold=0.0))
    assert new.number not in found and closed.number not in found and merged.number not in found
    assert found == [target.number]


def test_outside_the_window_is_not_offered(world, make_case, building, settings):
    settings.LINLI_DUPLICATE_WINDOW_DAYS = 14
    old = make_case(description=LIFT, building=building)
    _move(old, created_at=old.created_at - dt.timedelta(days=20))
    recent = make_case(description=LIFT, building=building)
    _move(recent, created_at=recent.created_at - dt.timedelta(days=10))
    new = make_case(description=LIFT_AGAIN, building=building)
    assert numbers(possible_duplicates(new)) == [recent.number]
    settings.LINLI_DUPLICATE_WINDOW_DAYS = 30
    assert set(numbers(possible_duplicates(new))) == {recent.number, old.number}


def test_a_constant_number_of_queries(world, make_case, building):
    new = make_case(description=LIFT_AGAIN, building=building, lat=LAT, lng=LNG)
    counts = []
    for _ in range(2):
        for _ in range(4):
            make_case(description=LIFT, building=building, lat=LAT, lng=LNG)
        with CaptureQueriesContext(connection) as ctx:
            found = possible_duplicates(new, limit=10)
            [m.why for m in found]
        counts.append(len(ctx))
    assert counts == [2, 2]  # the grid, then the radius inside the community
    assert len(found) == 8


def test_limit_and_candidate_cap(world, make_case, building, monkeypatch):
    for _ in range(4):
        make_case(description=LIFT, building=building)
    new = make_case(description=LIFT_AGAIN, building=building)
    assert len(possible_duplicates(new, limit=2)) == 2
    monkeypatch.setattr(duplicates, "CANDIDATES", 3)
    assert len(duplicates.candidates(new, limit=duplicates.CANDIDATES)) == 3
    assert possible_duplicates(new, limit=0) == []


def test_similarity_and_distance_helpers():
    assert duplicates.similarity(LIFT, LIFT) == pytest.approx(1.0)
    assert duplicates.similarity(LIFT, NOISE) < 0.3
    assert duplicates.similarity("", LIFT) == 0.0
    assert duplicates.haversine_m(LAT, LNG, LAT + 0.001, LNG) == pytest.approx(111.2, abs=0.5)
    assert duplicates.score_of(0.5, BUILDING, True) > duplicates.score_of(0.5, GRID, True)
    assert duplicates.score_of(0.5, GRID, False) > duplicates.score_of(0.5, RADIUS, False)
    assert duplicates.score_of(1.0, BUILDING, True) == 1.0


# ---------------------------------------------------------------------------------------------- console


def _detail(client, world, case, role="community_worker"):
    client.force_login(world.users[role])
    return client.get(reverse("console:case", args=[case.pk]))


def test_console_card_shows_for_a_community_worker_and_merges_after_confirming(
    client, world, make_case, building
):
    first = make_case(title="电梯故障", description=LIFT, building=building)
    new = make_case(title="电梯又坏了", description=LIFT_AGAIN, building=building)
    response = _detail(client, world, new)
    html = response.content.decode()
    assert response.status_code == 200
    assert "可能重复" in html and "合并到此诉求" in html
    assert reverse("console:case", args=[first.pk]) in html
    [match] = response.context["duplicates"]
    assert match.case.pk == first.pk and f"{match.percent}%" in html
    assert f'name="into" value="{first.number}"' in html

    url = reverse("console:case_act", args=[new.pk, "merge"])
    asked = client.post(
        url, {"version": new.version, "into": first.number}
    )  # issue #12: a confirmation first
    assert asked.status_code == 200 and 'id="merge-confirm"' in asked.content.decode()
    new.refresh_from_db()
    assert new.status != "merged"
    response = client.post(url, {"version": new.version, "into": first.number, "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("console:case", args=[first.pk])
    new.refresh_from_db()
    assert new.status == "merged" and new.merged_into_id == first.pk
    assert first.merged_cases.filter(pk=new.pk).exists()
    # The merged case offers nothing more; the target no longer lists it.
    assert "可能重复" not in _detail(client, world, new).content.decode()
    assert "合并到此诉求" not in _detail(client, world, first).content.decode()


def test_console_card_hidden_once_accepted(client, world, make_case, building):
    make_case(description=LIFT, building=building)
    new = make_case(description=LIFT_AGAIN, building=building)
    assert "可能重复" in _detail(client, world, new).content.decode()
    _move(new, status="accepted")
    assert "可能重复" not in _detail(client, world, new).content.decode()


# ---------------------------------------------------------------------------------------------- vectorised cosine

TEXTS = [
    LIFT,
    LIFT_AGAIN,
    NOISE,
    "",
    "！！，。",
    "Lift BROKEN lift_broken 3号楼 3號樓 12 12",
    "𠀋𠀋 漏水 😀 İstanbul ß",
    "楼道堆放杂物，影响通行；楼道堆放杂物！",
]


def test_similarities_equal_the_pairwise_cosine():
    for text in TEXTS:
        got = duplicates.similarities(text, TEXTS)
        assert got.tolist() == pytest.approx([duplicates.similarity(text, o) for o in TEXTS], abs=1e-12)
    assert duplicates.similarities(LIFT, []).tolist() == []


def test_similarities_below_a_floor_stay_below_it_and_the_rest_are_exact():
    exact = [duplicates.similarity(LIFT_AGAIN, o) for o in TEXTS]
    for floor in (0.0, 0.2, 0.5, 0.9):
        got = duplicates.similarities(LIFT_AGAIN, TEXTS, floor).tolist()
        for g, e in zip(got, exact, strict=True):
            assert g == pytest.approx(e, abs=1e-12) if e >= floor else g < floor


def test_only_the_head_of_a_long_description_counts_and_matches_load_it_whole(world, make_case, building):
    head = "。".join(
        [LIFT] * (duplicates.TEXT_CHARS // len(LIFT) + 1)
    )  # past TEXT_CHARS: the noise is not read
    tail = "。" + NOISE * 20
    first = make_case(title="电梯故障", description=head + tail, building=building)
    new = make_case(title="电梯又坏了", description=LIFT_AGAIN, building=building)
    [match] = possible_duplicates(new)
    expected = duplicates.similarity(f"电梯又坏了 {LIFT_AGAIN}", f"电梯故障 {head[: duplicates.TEXT_CHARS]}")
    assert match.case.pk == first.pk and match.similarity == round(expected, 4)
    assert match.case.description == head + tail  # deferred, loaded on use


def test_the_building_is_read_first_when_the_cap_bites(world, make_case, building, monkeypatch):
    other_building = BuildingFactory(grid=world.g1a, name="9号楼")
    older = make_case(description=LIFT, building=building)
    for _ in range(3):
        make_case(description=NOISE, building=other_building, category="noise")
    new = make_case(description=LIFT_AGAIN, building=building)
    monkeypatch.setattr(duplicates, "CANDIDATES", 2)
    assert duplicates.candidates(new, limit=2)[0].id == older.pk
    assert numbers(possible_duplicates(new)) == [older.number]


def test_an_unsaved_case_is_compared_as_if_reported_now(world, make_case, building, categories):
    first = make_case(description=LIFT, building=building)
    new = Case(
        title="电梯",
        description=LIFT_AGAIN,
        grid=world.g1a,
        region_code=first.region_code,
        building=building,
        category=categories["neighbour_dispute"],
    )
    assert numbers(possible_duplicates(new)) == [first.number]
