"""Passwords (issue #9 item 7): at least 12 characters, self-service change, administrators' resets with a forced
change at the next login and an audit record."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from linli.accounts.models import User
from linli.audit.models import ChangeRecord
from linli.ops.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db
OLD = "correct-horse-battery"
NEW = "a-brand-new-passphrase"


def test_passwords_shorter_than_12_characters_are_refused():
    with pytest.raises(ValidationError):
        validate_password("k7#Qm2!vXp9")  # 11 characters, otherwise strong
    validate_password("k7#Qm2!vXp9w")  # 12
    validate_password(DEMO_PASSWORD)  # the demo's documented password is long enough


def test_a_signed_in_user_changes_their_password(world):
    user = world.users["grid_worker"]
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password/", {"old_password": OLD, "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert "_auth_user_id" in client.session  # the session survives its own password change


def test_a_short_new_password_is_refused_and_nothing_changes(world):
    user = world.users["grid_worker"]
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password/",
        {"old_password": OLD, "new_password1": "short-pw-1", "new_password2": "short-pw-1"},
    )
    assert response.status_code == 200
    assert "12" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_the_password_page_needs_a_login():
    response = Client().get("/accounts/password/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def reset(actor, username):
    client = Client()
    client.force_login(actor)
    return client.post("/settings/logins/password/", {"username": username})


def test_an_admin_reset_forces_a_change_at_the_next_login_and_is_audited(world):
    target = world.users["grid_worker"]
    victim_session = Client()
    victim_session.force_login(target)
    response = reset(world.users["county_admin"], "grid_worker")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    temporary = response.context["temporary"]
    assert temporary in response.content.decode()
    target.refresh_from_db()
    assert target.must_change_password and target.check_password(temporary)
    record = ChangeRecord.objects.get(entity="accounts.user", entity_id=target.pk)
    assert record.actor == world.users["county_admin"] and record.note == "password reset by administrator"
    assert temporary not in str(record.before) + str(record.after)
    # The open session of the account ended with the reset.
    assert victim_session.get("/").status_code == 302
    assert "_auth_user_id" not in victim_session.session
    # Next login: every page leads to the password change page until the user chose their own.
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "grid_worker", "password": temporary}).status_code == 302
    )
    response = client.get("/residents/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/password/")
    assert client.get("/api/v1/grids").status_code == 401
    assert client.get("/accounts/password/").status_code == 200
    response = client.post(
        "/accounts/password/",
        {"old_password": temporary, "new_password1": NEW, "new_password2": NEW, "next": "/residents/"},
    )
    assert response.status_code == 302 and response["Location"] == "/residents/"
    target.refresh_from_db()
    assert not target.must_change_password
    assert client.get("/residents/").status_code == 200


@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("secretary", "county_admin"),  # above the actor
        ("grid_worker", "property_manager"),  # no org.manage at all
        ("secretary", "grid_worker"),  # the grid worker's grid is in another community (c1, not c2)
        ("county_admin", "superuser"),  # only a superuser resets a superuser
    ],
)
def test_a_reset_outside_ones_authority_is_refused_and_writes_nothing(world, actor, target):
    user = world.users[target]
    before = User.objects.get(pk=user.pk).password
    response = reset(world.users[actor], target)
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.password == before and not user.must_change_password
    assert not ChangeRecord.objects.filter(entity="accounts.user").exists()


def test_peers_cannot_reset_each_other(world):
    from linli.testing.factories import PostFactory

    peer = PostFactory(kind="secretary", region=world.c2, user__username="peer").user
    response = reset(world.users["secretary"], "peer")
    assert response.status_code == 403
    peer.refresh_from_db()
    assert not peer.must_change_password
    assert not ChangeRecord.objects.filter(entity="accounts.user").exists()


def test_the_reset_page_finds_only_accounts_in_ones_authority(world):
    client = Client()
    client.force_login(world.users["secretary"])
    # Community c2's secretary: c2 has no grid worker of its own in the world, the county admin ranks above.
    html = client.get("/settings/logins/", {"username": "county_admin"}).content.decode()
    assert "不在您的管理范围内" in html and "重置密码" not in html
    client.force_login(world.users["county_admin"])
    html = client.get("/settings/logins/", {"username": "grid_worker"}).content.decode()
    assert "重置密码" in html and "重置两步验证" in html
    client.force_login(world.users["grid_worker"])
    assert client.get("/settings/logins/").status_code == 403
