"""Smart triage in the console: the suggestion line with its terms and the pre-selected category in the triage
form, the 智能分拣 badge on the list and the detail of an auto-routed case, and undoing it from the page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from linli.cases.models import Case, CaseEvent
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import act, fresh, login, text
from linli.triage.tests.test_auto_route import LIFT_BODY, LIFT_TITLE, TO_ROAD, lift_confidence, train

pytestmark = pytest.mark.django_db

cats = support.cats
make = support.make


@pytest.fixture
def model(world, cats):
    return train(TO_ROAD)


def selected_category(html: str) -> str | None:
    form = html[html.index('id="act-triage"') :]
    select = form[form.index('name="category"') : form.index("</select>")]
    found = re.search(r'<option value="(\d+)"[^>]*selected', select)
    return found.group(1) if found else None


def test_the_triage_form_shows_the_suggestion_and_preselects_it(client, world, make, cats, model, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 1.01  # below the threshold: the case waits for staff
    case = make(category="noise", title=LIFT_TITLE, description=LIFT_BODY)
    staff = login(client, world, "community_worker")
    response = staff.get(reverse("console:case", args=[case.pk]))
    page = text(response)
    assert re.search(r"智能分拣建议：道路破损 · 置信度 \d+% · 依据：\S*梯", page), page
    assert selected_category(response.content.decode()) == str(cats["road_damage"].pk)
    assert "撤销智能分拣" not in page
    # Overriding stays possible (and the override-reason rule stays).
    assert act(staff, case, "triage", category=cats["noise"].pk, urgency="normal").status_code == 302
    assert fresh(case).category == cats["noise"] and fresh(case).status == "triaged"


def test_no_suggestion_line_without_a_model(client, world, make):
    case = make(title=LIFT_TITLE, description=LIFT_BODY)
    page = text(login(client, world, "community_worker").get(reverse("console:case", args=[case.pk])))
    assert "智能分拣建议" not in page and "分流建议" in page


def test_an_auto_routed_case_is_marked_and_can_be_undone(client, world, make, cats, model, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    case = make(category="noise", title=LIFT_TITLE, description=LIFT_BODY, channel="qr_resident")
    assert case.status == "triaged"
    staff = login(client, world, "community_worker")
    listing = text(staff.get(reverse("console:cases")))
    assert "智能分拣" in listing
    page = text(staff.get(reverse("console:case", args=[case.pk])))
    assert f"智能分拣 v{model.version} · " in page and "撤销智能分拣" in page
    assert "智能分拣：模型 v1 · 置信度" in page  # on the timeline
    response = act(staff, case, "undo_auto_triage", note="分类不对")
    assert response.status_code == 302, text(response)
    undone = fresh(case)
    assert undone.status == "submitted" and undone.category == cats["noise"]
    assert CaseEvent.objects.filter(case=case).latest("id").kind == "undo_auto_triage"
    page = text(staff.get(reverse("console:case", args=[case.pk])))
    assert f"智能分拣 v{model.version} · " not in page and "撤销了模型 v1 的智能分拣" in page


def test_undo_is_not_offered_to_a_grid_worker_or_on_a_manual_triage(
    client, world, make, cats, model, settings
):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    routed = make(category="noise", title=LIFT_TITLE, description=LIFT_BODY, channel="qr_resident")
    worker = login(client, world, "grid_worker")
    assert "撤销智能分拣" not in text(worker.get(reverse("console:case", args=[routed.pk])))
    assert act(worker, routed, "undo_auto_triage").status_code == 403
    manual = make(category="noise")
    staff = login(client, world, "community_worker")
    assert act(staff, manual, "triage", category=cats["noise"].pk, urgency="normal").status_code == 302
    assert "撤销智能分拣" not in text(staff.get(reverse("console:case", args=[manual.pk])))
    before = fresh(manual).version
    assert act(staff, manual, "undo_auto_triage").status_code == 409
    assert fresh(manual).version == before


def test_hotline_entry_keeps_the_category_staff_picked_and_shows_the_suggestion(
    client, world, cats, model, settings
):
    """ADR 0027: auto-routing never overrides a category picked on staff entry (even were the hotline an
    auto-routed channel); the console shows the suggestion on the case instead."""
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    settings.LINLI_TRIAGE_AUTO_ROUTE_CHANNELS = ["qr_resident", "staff_hotline"]
    staff = login(client, world, "community_worker")
    data = {
        "idempotency_key": "hotline-lift-1",
        "channel": "staff_hotline",
        "grid": world.g1a.pk,
        "category": cats["noise"].pk,
        "urgency": "normal",
        "title": LIFT_TITLE,
        "description": LIFT_BODY,
        "reporter_name": "赵敏",
        "reporter_phone": "13812341234",
    }
    response = staff.post(reverse("console:case_new"), data)
    assert response.status_code == 302, text(response)
    case = Case.objects.get()
    assert (case.status, case.category, case.version) == ("submitted", cats["noise"], 1)
    assert not CaseEvent.objects.filter(case=case, kind="triage").exists()
    page = text(staff.get(reverse("console:case", args=[case.pk])))
    assert re.search(r"智能分拣建议：道路破损 · 置信度 \d+%", page), page
