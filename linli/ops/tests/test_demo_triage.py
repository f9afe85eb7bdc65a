"""The demo county's smart triage: a text bank per leaf category, a labelled history with corrections, a trained
and active classifier, and live scenarios (an emerging issue, possible duplicates, the month's top issues)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from linli.audit.models import ChangeRecord
from linli.cases.choices import Action, Status
from linli.cases.models import Case, CaseEvent, Category, Supporter
from linli.ops.demo import seed_demo
from linli.ops.demo_texts import SHARED, SLOTS, TEXTS, UNSURE, leaf_of, pick, pick_titled, slots_in
from linli.ops.demo_triage import GARBAGE, LIFT, THEMES
from linli.registry.models import Region
from linli.triage.history import training_rows
from linli.triage.model import join_text
from linli.triage.models import EmergingIssue, EmergingIssueCase, TriageModel
from linli.triage.suggest import suggestion_for_case

SMALL = {"residents": 500, "grids": 12, "communities": 4}


def live_ids() -> set[int]:
    """Cases that went through the real intake (it writes their audit row; the bulk history does not)."""
    rows = ChangeRecord.objects.filter(entity="cases.case", action="create", source="demo")
    return set(rows.values_list("entity_id", flat=True))


# ------------------------------------------------------------------------------------------------ text bank


def test_every_default_leaf_has_ten_to_fourteen_distinct_texts():
    expected = {
        "property_repair",
        "property_elevator",
        "property_fee",
        "garbage",
        "greening",
        "flying_wire",
        "fire_lane",
        "noise",
        "neighbour_dispute",
        "streetlight",
        "manhole",
        "road_damage",
        "illegal_building",
        "gas_leak",
        "elder_alone",
    }
    assert set(TEXTS) == expected
    shared = {body: set(codes) for _t, body, codes in SHARED}
    owners: dict[str, set[str]] = {}
    for code, pairs in TEXTS.items():
        assert 10 <= len(pairs) <= 14, code
        assert len({t for t, _b in pairs}) == len({b for _t, b in pairs}) == len(pairs), code
        for title, body in pairs:
            owners.setdefault(body, set()).add(code)
            assert set(slots_in(title) + slots_in(body)) <= set(SLOTS), (code, title)
    # only the deliberately ambiguous complaints are in more than one bank, in those of their categories
    assert {body: codes for body, codes in owners.items() if len(codes) > 1} == shared


def test_rendered_texts_vary_stay_in_length_and_are_traced_to_their_leaf():
    rng = random.Random(5)
    for code in TEXTS:
        seen = set()
        for _ in range(60):
            title, body = pick(code, rng)
            assert "{" not in title + body
            assert 20 <= len(body) <= 80, body
            assert code in leaf_of(title, body)
            seen.add(body)
        assert len(seen) >= 12, code  # slots make the same complaint read differently
    assert leaf_of("无关的标题", "这段文字不在任何一个分类的文本库里。") == set()


def test_themes_and_scenarios_use_the_bank():
    rng = random.Random(1)
    for theme in THEMES:
        assert theme.code in TEXTS
        title, body = pick_titled(theme.code, theme.titles, rng)
        assert title in theme.titles and theme.code in leaf_of(title, body)
    assert len(LIFT) == 3 and len(GARBAGE) == 2


# ---------------------------------------------------------------------------------------------- the demo


@pytest.fixture
def seeded(db):
    said: list[str] = []
    result = seed_demo(seed=7, say=said.append, **SMALL)
    return result, said


def test_history_is_a_consistent_labelled_set_with_corrections(seeded):
    result, _said = seeded
    history = Case.objects.exclude(pk__in=live_ids())
    assert history.count() == result.counts["cases_history"]
    categories = {c.pk: c.code for c in Category.objects.all()}
    triage: dict[int, CaseEvent] = {}
    created: dict[int, CaseEvent] = {}
    for e in CaseEvent.objects.filter(case__in=history, kind__in=[Action.TRIAGE, "create"]).order_by("id"):
        (triage if e.kind == Action.TRIAGE else created)[e.case_id] = e
    corrected = 0
    for case in history.only("id", "title", "description", "category_id", "status"):
        code = categories[case.category_id]
        assert code in leaf_of(case.title, case.description), (code, case.title)
        event = triage[case.pk]
        assert event.actor_id is not None and event.from_status == Status.SUBMITTED
        assert event.to_status == Status.TRIAGED and event.data["category"] == code
        assert set(event.data) >= {"handling_level", "handler_department", "urgency", "overridden"}
        filed = created[case.pk].data["category"]
        if filed != code:
            corrected += 1
            assert event.data["previous_category"] == filed
            assert {"accept_due_at", "resolve_due_at"} <= set(event.data)
        else:
            assert "previous_category" not in event.data
    share = corrected / history.count()
    assert 0.05 < share < 0.11
    texts, labels = training_rows()
    assert len(texts) == history.count()
    labelled = Counter(zip(texts, labels, strict=True))
    assert labelled == Counter(
        (join_text(c.title, c.description), categories[c.category_id])
        for c in history.only("title", "description", "category_id")
    )
    assert len(set(labels)) == 15 and min(Counter(labels).values()) >= 10


def test_an_active_model_is_trained_from_the_history(seeded):
    result, said = seeded
    model = TriageModel.objects.get(active=True)
    assert result.counts["triage_model"] == model.version
    assert model.source == "history" and 0.6 < model.metrics["macro_f1"] <= 1.0
    assert model.metrics["train_rows"] == result.counts["cases_history"]
    assert set(model.label_map) == set(TEXTS) and all(k == v for k, v in model.label_map.items())
    assert any("macro-F1" in line and f"{model.metrics['macro_f1']:.3f}" in line for line in said)
    # confident live appeals were routed by it at intake
    auto = [e for e in CaseEvent.objects.filter(kind=Action.TRIAGE, actor__isnull=True) if e.data.get("auto")]
    assert auto and all(e.data["auto"]["model"] == model.version for e in auto)
    # the appeals it is unsure of wait for staff, with its suggestion
    unsure = list(Case.objects.filter(pk__in=live_ids(), title__in=[t for t, _b, _c in UNSURE]))
    assert len(unsure) == len(UNSURE)
    waiting = [c for c in unsure if c.status == Status.SUBMITTED]
    assert waiting and all(suggestion_for_case(c) is not None for c in waiting)


def test_the_lift_scenario_raises_an_emerging_issue(seeded):
    live = Case.objects.filter(pk__in=live_ids(), household__isnull=False)
    lift = list(live.filter(title__in=[t for t, _b in LIFT]).select_related("household"))
    assert len(lift) == 3
    assert len({c.building_id for c in lift}) == 1
    assert len({c.household_id for c in lift}) == 3 and len({c.reporter_phone_digest for c in lift}) == 3
    assert all(c.household.building_id == c.building_id for c in lift)
    issue = EmergingIssue.objects.get(building_id=lift[0].building_id)
    linked = set(EmergingIssueCase.objects.filter(issue=issue).values_list("case_id", flat=True))
    assert linked == {c.pk for c in lift}
    assert issue.households == 3 and issue.category.code == "property_elevator"
    # two households of another building about rubbish stay below the threshold
    garbage = list(live.filter(title__in=[t for t, _b in GARBAGE]))
    assert len(garbage) == 2 and len({c.building_id for c in garbage}) == 1
    assert not EmergingIssueCase.objects.filter(case__in=garbage).exists()


def test_the_street_lamp_reports_are_possible_duplicates(seeded):
    from linli.triage.duplicates import possible_duplicates

    first, second = Case.objects.filter(title__contains="南门口路灯").order_by("id")
    assert first.grid_id == second.grid_id and first.building_id is None
    matches = possible_duplicates(second)
    assert matches and matches[0].case.pk == first.pk and matches[0].score >= 0.8
    assert not EmergingIssueCase.objects.filter(case__in=[first, second]).exists()


def test_the_month_shows_top_issues_with_households_and_supporters(seeded):
    from linli.core.scope import Scope
    from linli.triage.top_issues import parse_month, top_issues

    assert Supporter.objects.count() == seeded[0].counts["supporters"] > 0
    lift = Case.objects.filter(pk__in=live_ids(), title__in=[t for t, _b in LIFT]).order_by("id").first()
    community = Region.objects.get(pk=lift.grid.community_id)
    report = top_issues(Scope(everything=True), parse_month(""), community, limit=5)
    big = [i for i in report.issues if i.households >= 3]
    assert len(big) >= 3
    assert any(i.likes > 0 for i in report.issues)
    themed = {t for theme in THEMES for t in theme.titles}
    assert any(c.title in themed for i in big for c in i.cases)
