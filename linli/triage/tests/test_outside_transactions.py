"""The classifier never runs under the write lock (ADR 0027): intake computes its suggestion before the case's
transaction (also when Open311 wraps the intake in a transaction of its own), staff triage works out the chosen
category's routing before the transition's, and a cold model cache is filled outside them too."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from linli.cases import services
from linli.cases.choices import Action, Status
from linli.cases.models import Case
from linli.open311 import apikeys
from linli.triage import services as triage
from linli.triage.model import TextClassifier
from linli.triage.tests.test_auto_route import LIFT_BODY, LIFT_TITLE, TO_ROAD, lift_confidence, train

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calls(categories, world, settings, monkeypatch):
    """A trained, active model whose every use records whether a transaction was open at that moment."""
    model = train(TO_ROAD)
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    seen: list[tuple[str, bool]] = []
    classifier = triage.load(model.version)
    classify = classifier.classify

    def watched(text: str, explain: int = 5):
        seen.append(("classify", connection.in_atomic_block))
        return classify(text, explain)

    monkeypatch.setattr(classifier, "classify", watched)  # this very object, the one the cache holds
    loads = TextClassifier.loads

    def watched_loads(blob: bytes) -> TextClassifier:
        seen.append(("unpickle", connection.in_atomic_block))
        loaded = loads(blob)
        monkeypatch.setattr(loaded, "classify", watched)
        return loaded

    monkeypatch.setattr(TextClassifier, "loads", staticmethod(watched_loads))
    return seen


def test_intake_classifies_before_its_transaction(calls, world, categories):
    triage._cache.clear()  # a cold cache: the model is unpickled on this appeal
    case = services.case_create(
        channel="qr_resident",
        category=categories["noise"],
        grid=world.g1a,
        title=LIFT_TITLE,
        description=LIFT_BODY,
    )
    assert case.status == Status.TRIAGED and case.category.code == "road_damage"  # the suggestion was used
    assert calls == [("unpickle", False), ("classify", False)]


def test_open311_intake_classifies_before_its_own_transaction(calls, world, categories):
    _client, key = apikeys.client_create(name="fixmystreet-test")
    noise = categories["noise"]
    response = Client().post(
        "/open311/v2/requests.json",
        {
            "api_key": key,
            "service_code": noise.service_code,
            "address_id": str(world.households["g1a"].building.pk),
            "description": f"{LIFT_TITLE}，{LIFT_BODY}",
        },
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(channel="open311")
    assert case.status == Status.TRIAGED and case.category.code == "road_damage"
    assert calls and all(not in_transaction for _what, in_transaction in calls), calls


def test_staff_triage_works_out_the_routing_before_its_transaction(calls, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 1.01  # the case waits for staff
    case = services.case_create(
        channel="qr_resident",
        category=categories["noise"],
        grid=world.g1a,
        title=LIFT_TITLE,
        description=LIFT_BODY,
    )
    calls.clear()
    done = services.transition(
        case=case,
        action=Action.TRIAGE,
        actor=world.users["community_worker"],
        version=case.version,
        category=categories["road_damage"],
    )
    assert done.status == Status.TRIAGED and done.category.code == "road_damage"
    assert calls == [("classify", False)]
