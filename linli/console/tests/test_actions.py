"""Console writes through HTTP: reveal, edit (with version conflicts), move-out, verify, add resident.
Every refusal is checked to leave the database unchanged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.audit.models import AccessLog, ChangeRecord
from linli.core.crypto import cipher
from linli.registry.models import Household, Residence, Resident
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db


def login(client, world, role):
    client.force_login(world.users[role])
    return client


def snapshot() -> tuple:
    return (
        list(Resident.objects.order_by("pk").values_list("pk", "name", "status", "version", "household_id")),
        list(Household.objects.order_by("pk").values_list("pk", "last_verified_at", "version")),
        ChangeRecord.objects.count(),
        AccessLog.objects.count(),
        Residence.objects.count(),
    )


# ------------------------------------------------------------------ reveal


def test_reveal_form_then_logged_reveal(client, world):
    r = world.residents["g1a"]
    c = login(client, world, "community_worker")
    url = reverse("console:resident_reveal", args=[r.pk, "id_number"])
    form = c.get(url, headers={"HX-Request": "true"})
    assert form.status_code == 200
    assert "查看事由" in form.content.decode()
    response = c.post(url, {"reason": "核实身份办理低保"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert cipher().decrypt(r.id_cipher) in response.content.decode()
    log = AccessLog.objects.get()
    assert (log.actor, log.entity_id, log.field, log.reason) == (
        world.users["community_worker"],
        r.pk,
        "id_number",
        "核实身份办理低保",
    )


def test_reveal_phone(client, world):
    r = world.residents["g1b"]
    response = login(client, world, "community_worker").post(
        reverse("console:resident_reveal", args=[r.pk, "phone"]), {"reason": "电话回访"}
    )
    assert cipher().decrypt(r.phone_cipher) in response.content.decode()
    assert AccessLog.objects.filter(field="phone", entity_id=r.pk).count() == 1


def test_reveal_needs_a_reason(client, world):
    r = world.residents["g1a"]
    before = snapshot()
    response = login(client, world, "community_worker").post(
        reverse("console:resident_reveal", args=[r.pk, "id_number"]), {"reason": " "}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert cipher().decrypt(r.id_cipher) not in html
    assert 'role="alert"' in html
    assert snapshot() == before


@pytest.mark.parametrize("role", ["grid_worker", "building_captain", "street_staff"])
def test_reveal_refused_without_cap(client, world, role):
    key = "g1b" if role == "building_captain" else "g1a"
    r = world.residents[key]
    before = snapshot()
    response = login(client, world, role).post(
        reverse("console:resident_reveal", args=[r.pk, "id_number"]), {"reason": "好奇看看"}
    )
    assert response.status_code == 403
    assert cipher().decrypt(r.id_cipher) not in response.content.decode()
    assert snapshot() == before


def test_reveal_outside_scope_is_404(client, world):
    r = world.residents["g2"]
    before = snapshot()
    response = login(client, world, "community_worker").post(
        reverse("console:resident_reveal", args=[r.pk, "id_number"]), {"reason": "核实身份"}
    )
    assert response.status_code == 404
    assert snapshot() == before


def test_reveal_unknown_field_is_404(client, world):
    r = world.residents["g1a"]
    response = login(client, world, "community_worker").post(
        reverse("console:resident_reveal", args=[r.pk, "id_cipher"]), {"reason": "核实身份"}
    )
    assert response.status_code == 404
    assert AccessLog.objects.count() == 0


def test_reveal_anonymous_post_redirects(client, world):
    r = world.residents["g1a"]
    response = client.post(
        reverse("console:resident_reveal", args=[r.pk, "id_number"]), {"reason": "核实身份"}
    )
    assert response.status_code == 302
    assert AccessLog.objects.count() == 0


# ------------------------------------------------------------------ edit


def edit_data(resident: Resident, **overrides) -> dict:
    data = {
        "version": resident.version,
        "name": resident.name,
        "id_kind": resident.id_kind,
        "id_number": "",
        "phone": "",
        "ethnicity": "汉族",
        "political_status": resident.political_status,
        "occupation": "教师",
        "residence_type": resident.residence_type,
        "relation": "head",
        "note": "",
    }
    data.update(overrides)
    return data


def test_edit_saves_and_keeps_secrets(client, world):
    r = world.residents["g1a"]
    old_id = cipher().decrypt(r.id_cipher)
    c = login(client, world, "grid_worker")
    assert c.get(reverse("console:resident_edit", args=[r.pk])).status_code == 200
    response = c.post(reverse("console:resident_edit", args=[r.pk]), edit_data(r, name="王晓明"))
    assert response.status_code == 302
    r.refresh_from_db()
    assert (r.name, r.occupation, r.relation, r.version) == ("王晓明", "教师", "head", 2)
    assert cipher().decrypt(r.id_cipher) == old_id  # left empty → unchanged
    rec = ChangeRecord.objects.get(entity="registry.resident", entity_id=r.pk, action="update")
    assert rec.after["name"] == "王晓明"
    detail = c.get(reverse("console:resident", args=[r.pk])).content.decode()
    assert "王晓明" in detail and "教师" in detail  # the timeline shows before → after


def test_edit_version_conflict(client, world):
    r = world.residents["g1a"]
    stale = edit_data(r, name="张三")
    Resident.objects.filter(pk=r.pk).update(version=r.version + 1)  # someone saved first
    before = snapshot()
    response = login(client, world, "grid_worker").post(reverse("console:resident_edit", args=[r.pk]), stale)
    assert response.status_code == 409
    assert "已被他人修改" in response.content.decode()
    assert snapshot() == before


def test_edit_field_error_in_chinese_next_to_field(client, world):
    r = world.residents["g1a"]
    before = snapshot()
    response = login(client, world, "grid_worker").post(
        reverse("console:resident_edit", args=[r.pk]), edit_data(r, id_number="370102199001011235")
    )
    assert response.status_code == 200
    assert "校验" in response.content.decode() or "证件" in response.content.decode()
    assert response.context["form"].errors.get("id_number")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("role", "key", "status"),
    [
        ("building_captain", "g1b", 403),  # VIEW but not CHANGE
        ("street_staff", "g1a", 403),
        ("grid_worker", "g1b", 404),  # outside the grid
        ("no_post", "g1a", 403),
    ],
)
def test_edit_refused(client, world, role, key, status):
    r = world.residents[key]
    before = snapshot()
    response = login(client, world, role).post(
        reverse("console:resident_edit", args=[r.pk]), edit_data(r, name="改名")
    )
    assert response.status_code == status
    assert snapshot() == before


# ------------------------------------------------------------------ move out


def test_move_out(client, world):
    r = world.residents["g1a"]
    response = login(client, world, "grid_worker").post(
        reverse("console:resident_move_out", args=[r.pk]), {"on": "2025-03-01", "reason": "随子女迁往济南"}
    )
    assert response.status_code == 302
    r.refresh_from_db()
    assert r.status == "moved_out" and r.household_id is None
    residence = Residence.objects.get(resident=r)
    assert str(residence.moved_out_on) == "2025-03-01"
    assert residence.reason == "随子女迁往济南"


def test_move_out_needs_reason(client, world):
    r = world.residents["g1a"]
    before = snapshot()
    response = login(client, world, "grid_worker").post(
        reverse("console:resident_move_out", args=[r.pk]), {"on": "2025-03-01", "reason": ""}
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_move_out_refused_outside_scope(client, world):
    r = world.residents["g2"]
    before = snapshot()
    response = login(client, world, "community_worker").post(
        reverse("console:resident_move_out", args=[r.pk]), {"on": "2025-03-01", "reason": "迁出"}
    )
    assert response.status_code == 404
    assert snapshot() == before


# ------------------------------------------------------------------ household verify and add resident


def test_verify_household(client, world):
    h = world.households["g1a"]
    c = login(client, world, "grid_worker")
    response = c.post(reverse("console:household_verify", args=[h.pk]), {"note": "入户核对无变化"})
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.last_verified_by == world.users["grid_worker"]
    assert h.last_verified_at is not None
    html = c.get(reverse("console:household", args=[h.pk])).content.decode()
    assert "已核实" in html and str(world.users["grid_worker"]) in html


@pytest.mark.parametrize(
    ("role", "key", "status"),
    [
        ("building_captain", "g1b", 403),
        ("grid_worker", "g2", 404),
        ("department_handler", "g1a", 403),
    ],
)
def test_verify_refused(client, world, role, key, status):
    before = snapshot()
    response = login(client, world, role).post(
        reverse("console:household_verify", args=[world.households[key].pk])
    )
    assert response.status_code == status
    assert snapshot() == before


def test_verify_get_not_allowed(client, world):
    response = login(client, world, "grid_worker").get(
        reverse("console:household_verify", args=[world.households["g1a"].pk])
    )
    assert response.status_code == 405


def add_data(**overrides) -> dict:
    data = {
        "name": "李新",
        "id_kind": "resident_id",
        "id_number": synthetic_id(),
        "phone": "13912345678",
        "ethnicity": "汉族",
        "political_status": "masses",
        "occupation": "",
        "residence_type": "registered",
        "relation": "child",
        "moved_in_on": "2024-09-01",
        "note": "",
    }
    data.update(overrides)
    return data


def test_add_resident_to_household(client, world):
    h = world.households["g1a"]
    response = login(client, world, "grid_worker").post(
        reverse("console:household_add_resident", args=[h.pk]), add_data()
    )
    assert response.status_code == 302
    new = Resident.objects.get(name="李新")
    assert new.household == h and new.grid == h.grid
    assert new.phone_masked == "139****5678"
    assert Residence.objects.get(resident=new).moved_in_on.isoformat() == "2024-09-01"


def test_add_resident_shows_field_errors_in_chinese(client, world):
    h = world.households["g1a"]
    before = snapshot()
    response = login(client, world, "grid_worker").post(
        reverse("console:household_add_resident", args=[h.pk]),
        add_data(id_number="370102199001011235", phone="123", moved_in_on="2024-13-45"),
    )
    assert response.status_code == 400
    errors = response.context["add_form"].errors
    assert {"id_number", "phone", "moved_in_on"} <= set(errors)
    assert "不是有效日期" in errors["moved_in_on"][0]
    assert snapshot() == before


def test_add_resident_duplicate_id_conflict(client, world):
    h = world.households["g1a"]
    existing = cipher().decrypt(world.residents["g1b"].id_cipher)
    before = snapshot()
    response = login(client, world, "grid_worker").post(
        reverse("console:household_add_resident", args=[h.pk]), add_data(id_number=existing)
    )
    assert response.status_code == 400
    assert "已登记" in response.content.decode()
    assert snapshot() == before


def test_add_resident_refused_for_read_only_role(client, world):
    before = snapshot()
    response = login(client, world, "building_captain").post(
        reverse("console:household_add_resident", args=[world.households["g1b"].pk]), add_data()
    )
    assert response.status_code == 403
    assert snapshot() == before
