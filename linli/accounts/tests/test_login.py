"""Login security: Argon2 hashes, throttling after 5 failures from one address, idle session timeout."""

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.test import Client
from django.utils import timezone

from linli.testing.factories import UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def login(client, password):
    return client.post(LOGIN, {"username": "wang", "password": password})


def test_production_hasher_is_argon2():
    from linli.config import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_argon2_hash_is_stored(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = UserFactory(username="argon")
    user.set_password("a-long-enough-password")
    assert identify_hasher(user.password).algorithm == "argon2"


def test_correct_password_logs_in():
    UserFactory(username="wang")
    response = login(Client(), "correct-horse-battery")
    assert response.status_code == 302


def test_five_failures_lock_this_address_on_the_account_even_for_the_right_password():
    UserFactory(username="wang")
    client = Client()
    for _ in range(5):
        assert login(client, "wrong").status_code == 200
    assert AccessAttempt.objects.get(username="wang").failures_since_start == 5
    response = login(client, "correct-horse-battery")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lock_expires(settings):
    UserFactory(username="wang")
    client = Client()
    for _ in range(5):
        login(client, "wrong")
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=settings.LINLI_LOCKOUT_MINUTES + 1)):
        assert login(client, "correct-horse-battery").status_code == 302
    assert not AccessAttempt.objects.filter(username="wang").exists()


def test_four_failures_then_success_resets_the_counter():
    UserFactory(username="wang")
    client = Client()
    for _ in range(4):
        login(client, "wrong")
    assert login(client, "correct-horse-battery").status_code == 302
    assert not AccessAttempt.objects.filter(username="wang").exists()


def test_unknown_user_gets_the_same_message():
    response = login(Client(), "whatever")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_idle_session_expires_after_30_minutes():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    user = UserFactory(username="idle", is_superuser=True)
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/grids").status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=29)):
        assert client.get("/api/v1/grids").status_code == 200  # activity renews the session
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=29 + 31)):
        assert client.get("/api/v1/grids").status_code == 401


def test_reads_save_the_session_at_most_once_a_minute(django_assert_num_queries):
    from django.contrib.sessions.models import Session

    user = UserFactory(username="busy", is_superuser=True)
    client = Client()
    client.force_login(user)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get("/api/v1/grids").status_code == 200  # first request after login: touched
        expiry = Session.objects.get().expire_date
    with time_machine.travel(start + timezone.timedelta(seconds=30), tick=False):
        assert client.get("/api/v1/grids").status_code == 200
        assert Session.objects.get().expire_date == expiry  # not written again within the minute
    with time_machine.travel(start + timezone.timedelta(seconds=61), tick=False):
        assert client.get("/api/v1/grids").status_code == 200
        assert Session.objects.get().expire_date > expiry  # renewed
