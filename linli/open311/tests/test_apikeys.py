"""API keys: the console page (org.manage only; the key shown once; revoke) and ``linli apikey``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.open311 import apikeys
from linli.open311.models import ApiClient
from linli.open311.tests.conftest import BASE, post_form

pytestmark = pytest.mark.django_db
PAGE = "console:apikeys"
MANAGERS = {"county_admin", "secretary", "superuser"}  # holders of org.manage (and the superuser)
CONFIGURERS = {"county_admin", "superuser"}  # Cap.CONFIGURE: they manage installation-wide keys too


def snapshot():
    return list(
        ApiClient.objects.order_by("pk").values_list("pk", "name", "active")
    ), ChangeRecord.objects.count()


@pytest.mark.parametrize(
    "role",
    [
        "no_post",
        "grid_worker",
        "community_worker",
        "street_staff",
        "department_handler",
        "county_admin",
        "secretary",
        "superuser",
    ],
)
def test_page_permission_matrix(client, world, role):
    existing, _key = apikeys.client_create(name="existing")  # the command line's: installation-wide
    client.force_login(world.users[role])
    before = snapshot()
    page = client.get(reverse(PAGE))
    created = client.post(reverse(PAGE), {"name": f"by-{role}"})
    revoked = client.post(reverse("console:apikey_revoke", args=[existing.pk]))
    if role in CONFIGURERS:
        assert page.status_code == 200
        assert "existing" in page.content.decode()
        assert created.status_code == 200 and revoked.status_code == 302
        assert ApiClient.objects.filter(name=f"by-{role}", active=True).exists()
        assert not ApiClient.objects.get(pk=existing.pk).active
    elif role in MANAGERS:  # a secretary: its own community's keys only (ADR 0019)
        assert page.status_code == 200 and "existing" not in page.content.decode()
        assert created.status_code == 200 and revoked.status_code == 404
        assert ApiClient.objects.get(name=f"by-{role}").area == world.c2
        assert ApiClient.objects.get(pk=existing.pk).active
    else:
        assert (page.status_code, created.status_code, revoked.status_code) == (403, 403, 403)
        assert snapshot() == before


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302 and "/accounts/login" in response["Location"]


def test_sidebar_link_only_for_managers(client, world):
    client.force_login(world.users["county_admin"])
    assert reverse(PAGE) in client.get(reverse("console:home")).content.decode()
    client.force_login(world.users["grid_worker"])
    assert reverse(PAGE) not in client.get(reverse("console:home")).content.decode()


def test_create_shows_the_key_once_and_it_works(client, world, categories):
    client.force_login(world.users["county_admin"])
    response = client.post(reverse(PAGE), {"name": "hotline-12345", "grid": world.g2.code})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    row = ApiClient.objects.get(name="hotline-12345")
    assert row.default_grid == world.g2 and row.created_by == world.users["county_admin"]
    assert row.area == world.county
    key = response.context["new_key"]
    assert key in response.content.decode() and key.startswith(row.key_prefix)
    audit = ChangeRecord.objects.get(entity="open311.apiclient", entity_id=row.pk)
    assert audit.after["name"] == "hotline-12345" and key not in json.dumps(audit.after)
    # afterwards: only the prefix
    later = client.get(reverse(PAGE)).content.decode()
    assert key not in later and f"{row.key_prefix}…" in later
    # the key authorises an Open311 POST; the request lands on the default grid
    posted = post_form(
        client, "requests.json", {"api_key": key, "service_code": "500", "address_string": "西门"}
    )
    assert posted.status_code == 201, posted.content
    # after revoking, it no longer does
    client.post(reverse("console:apikey_revoke", args=[row.pk]))
    again = post_form(
        client, "requests.json", {"api_key": key, "service_code": "500", "address_string": "西门"}
    )
    assert again.status_code == 403


def test_create_refusals_name_the_field(client, world):
    apikeys.client_create(name="taken")
    client.force_login(world.users["secretary"])  # org.manage over community c2 only
    before = snapshot()
    cases = [
        ({"name": "taken"}, "name", "客户端名称“taken”已存在"),
        ({"name": "has space"}, "name", "只能包含文字、数字、下划线、点和连字符"),
        ({"name": "ok", "grid": world.g1a.code}, "grid", "不存在或不在您的管辖范围内"),  # c1: outside c2
        ({"name": "ok", "grid": "NOPE"}, "grid", "不存在或不在您的管辖范围内"),
    ]
    for data, field, message in cases:
        response = client.post(reverse(PAGE), data)
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
        assert "new_key" not in response.context
    assert snapshot() == before
    response = client.post(reverse(PAGE), {"name": "ok", "grid": world.g2.code})
    assert response.context["new_client"].default_grid == world.g2


def test_cli_create_list_revoke(world, categories, client):
    out, err = io.StringIO(), io.StringIO()
    call_command("linli_apikey", "create", "fms", "--grid", str(world.g3.pk), stdout=out, stderr=err)
    key = out.getvalue().strip()
    row = ApiClient.objects.get(name="fms")
    assert row.default_grid == world.g3
    assert apikeys.client_for_key(key) == row
    assert "只显示这一次" in err.getvalue()
    call_command(
        "linli_apikey",
        "create",
        "by-code",
        "--grid",
        world.g1b.code,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert ApiClient.objects.get(name="by-code").default_grid == world.g1b
    listing = io.StringIO()
    call_command("linli_apikey", "list", stdout=listing)
    assert f"fms\t{row.key_prefix}…\t启用" in listing.getvalue() and key not in listing.getvalue()
    with pytest.raises(CommandError, match="已存在"):
        call_command("linli_apikey", "create", "fms", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="网格 NOPE 不存在"):
        call_command(
            "linli_apikey", "create", "other", "--grid", "NOPE", stdout=io.StringIO(), stderr=io.StringIO()
        )
    call_command("linli_apikey", "revoke", "fms", stdout=io.StringIO())
    assert apikeys.client_for_key(key) is None
    assert client.post(f"{BASE}/requests.json", {"api_key": key, "service_code": "500"}).status_code == 403
    with pytest.raises(CommandError, match="此前已停用"):
        call_command("linli_apikey", "revoke", "fms", stdout=io.StringIO())


def test_cli_dispatch(monkeypatch):
    from linli import cli

    seen = []
    monkeypatch.setattr("django.core.management.execute_from_command_line", lambda argv: seen.append(argv))
    cli.main(["apikey", "create", "fms"])
    assert seen == [["linli", "linli_apikey", "create", "fms"]]
    assert "apikey" in cli.usage()
