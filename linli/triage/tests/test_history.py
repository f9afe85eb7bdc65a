"""Learning from the platform's history: labelled rows from staff triage, training from them (with the macro-F1
rule for activation), the scheduled retrain and the command line."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from linli.cases import services
from linli.cases.choices import Action, Status
from linli.cases.models import Case
from linli.triage import history
from linli.triage import services as triage
from linli.triage.models import TriageModel
from linli.triage.tests.conftest import corpus
from linli.triage.tests.test_auto_route import LIFT_BODY, LIFT_TITLE, TO_ROAD, lift_confidence, train


def reported(world, categories, text: str, category: str = "neighbour_dispute") -> Case:
    title, _, body = text.partition("，")
    return services.case_create(
        channel="grid_worker", category=categories[category], grid=world.g1a, title=title, description=body
    )


def staff_triage(world, case: Case, category) -> Case:
    return services.transition(
        case=case,
        action=Action.TRIAGE,
        actor=world.users["community_worker"],
        version=case.version,
        category=category,
    )


def label_history(world, categories, n: int | None = None) -> list[Case]:
    """Cases reported under one category and triaged by staff into the corpus's (corrections)."""
    texts, labels = corpus()
    cases = []
    for text, label in list(zip(texts, labels, strict=True))[:n]:
        cases.append(staff_triage(world, reported(world, categories, text), categories[label]))
    return cases


def test_training_rows_take_the_last_staff_triage(world, categories, settings):
    staff = world.users["community_worker"]
    corrected = staff_triage(world, reported(world, categories, "楼上装修，电钻太吵"), categories["noise"])
    confirmed = staff_triage(
        world, reported(world, categories, "垃圾没清运，臭", "garbage"), categories["garbage"]
    )
    untouched = reported(world, categories, "路灯不亮，晚上很黑")
    merged = staff_triage(world, reported(world, categories, "楼上装修，又在钻"), categories["noise"])
    services.transition(case=merged, action=Action.MERGE, actor=staff, version=merged.version, into=corrected)
    # The classifier's own triage is no label; undone and re-triaged by staff, the staff's category is.
    train(TO_ROAD)
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    auto = services.case_create(
        channel="qr_resident",
        category=categories["noise"],
        grid=world.g1a,
        title=LIFT_TITLE,
        description=LIFT_BODY,
    )
    kept_auto = services.case_create(
        channel="qr_resident",
        category=categories["noise"],
        grid=world.g1a,
        title=LIFT_TITLE,
        description=LIFT_BODY,
    )
    assert auto.status == kept_auto.status == Status.TRIAGED
    auto = services.transition(case=auto, action=Action.UNDO_AUTO_TRIAGE, actor=staff, version=auto.version)
    staff_triage(world, auto, categories["property_elevator"])
    texts, labels = history.training_rows()
    assert labels == ["noise", "garbage", "property_elevator"]
    assert texts[0] == "楼上装修\n电钻太吵" and texts[2] == f"{LIFT_TITLE}\n{LIFT_BODY}"
    assert untouched.pk and confirmed.pk  # untouched (never triaged by staff) and merged cases give no row


def test_training_rows_keep_the_newest_labelled_cases(world, categories, settings):
    for text, label in (
        ("楼上装修，电钻太吵", "noise"),
        ("垃圾没清运，臭", "garbage"),
        ("夜里施工，吵得睡不着", "noise"),
    ):
        staff_triage(world, reported(world, categories, text), categories[label])
    assert history.training_rows(limit=2) == (
        ["垃圾没清运\n臭", "夜里施工\n吵得睡不着"],
        ["garbage", "noise"],
    )
    settings.LINLI_TRIAGE_TRAIN_MAX_ROWS = 1
    assert history.training_rows() == (["夜里施工\n吵得睡不着"], ["noise"])


def test_train_from_history_and_the_activation_rule(world, categories):
    label_history(world, categories)
    first = history.train_from_history(activate=True)
    assert first.activated and first.row.active and first.row.source == "history"
    assert first.row.label_map == {c: c for c in first.row.labels}
    assert first.row.metrics["train_rows"] == 30
    stored = history.train_from_history()
    assert not stored.activated and triage.active_model().version == first.row.version
    # An active version far better than anything new: the retrained one is kept, not activated.
    TriageModel.objects.filter(pk=first.row.pk).update(metrics={"macro_f1": 1.5})
    worse = history.train_from_history(activate=True)
    assert not worse.activated and "NOT activated" in worse.message
    assert triage.active_model().version == first.row.version


def test_train_from_history_needs_labelled_cases(categories):
    from linli.core.errors import LinliError

    with pytest.raises(LinliError, match="人工分流"):
        history.train_from_history()


def test_retrain_if_due_waits_for_enough_new_examples_and_trains_once(world, categories, settings):
    settings.LINLI_TRIAGE_RETRAIN_MIN_NEW = 30
    settings.LINLI_TRIAGE_RETRAIN_EVERY_HOURS = 24
    label_history(world, categories, n=29)
    assert history.retrain_if_due() == 0
    assert not TriageModel.objects.exists()
    label_history(world, categories)  # 59 labelled cases now
    assert history.retrain_if_due() == 1  # queued; the test backend runs the task at once
    assert TriageModel.objects.count() == 1 and triage.active_model().source == "history"
    assert history.retrain_if_due() == 0  # just trained: nothing new, and not 24 hours yet
    assert history.retrain_now_if_due() is None  # a duplicate queue entry trains nothing either
    assert TriageModel.objects.count() == 1


def test_retrain_if_due_counts_examples_since_the_reference_version(world, categories, settings):
    settings.LINLI_TRIAGE_RETRAIN_MIN_NEW = 5
    settings.LINLI_TRIAGE_RETRAIN_EVERY_HOURS = 0
    settings.LINLI_TRIAGE_AUTO_ROUTE = False  # the new cases wait for staff triage
    label_history(world, categories)
    history.train_from_history(activate=True)
    assert history.new_examples(None) == 30
    assert not history.retrain_due()  # nothing triaged by staff since v1 was trained
    label_history(world, categories, n=5)
    assert history.retrain_due()
    settings.LINLI_TRIAGE_RETRAIN_EVERY_HOURS = 24
    assert not history.retrain_due()  # enough new examples, but v1 is not a day old
    TriageModel.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert history.retrain_if_due() == 1 and TriageModel.objects.count() == 2


def test_cli_train_from_history(world, categories, capsys):
    label_history(world, categories)
    call_command("linli_triage", "train", "--from-history", "--activate")
    out = capsys.readouterr().out
    assert "v1: 30 rows, 3 labels" in out and "v1 is active" in out
    call_command("linli_triage", "train", "--from-history", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 2 and data["active"] is False and data["train_rows"] == 30
