"""Login throttling (issue #9 item 7): per address and per address+username, identical answers and work."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from linli.testing.factories import UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
PASSWORD = "correct-horse-battery"


class CountingHasher(MD5PasswordHasher):
    """Counts how often the password hasher runs (``encode`` is the work behind both hashing and checking)."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


def post(client, username, password, address="10.0.0.1", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def form_error(response) -> bytes:
    match = re.search(rb'<div class="form-error" role="alert">.*?</div>', response.content, re.S)
    assert match, response.content[:2000]
    return match.group(0)


def test_80_guesses_sprayed_over_20_accounts_from_one_address_are_throttled():
    users = [UserFactory(username=f"staff{i:02d}") for i in range(20)]
    client = Client()
    for round_ in range(4):
        for user in users:
            post(client, user.username, f"guess-{round_}")
    # 4 guesses per account stay under the per-account limit (5), but the address limit (30) stopped the spray:
    # the 30th failure locked the address, and the 50 guesses after it were refused unchecked and uncounted …
    attempts = AccessAttempt.objects.filter(ip_address="10.0.0.1")
    assert sum(a.failures_since_start for a in attempts) == 30
    assert max(a.failures_since_start for a in attempts) == 2
    response = post(client, "staff07", PASSWORD)
    assert response.status_code == 200 and not logged_in(client)  # … even for a right password from there
    # … and the real user, from their own address, is not affected.
    other = Client()
    assert post(other, "staff07", PASSWORD, address="10.0.0.2").status_code == 302
    assert logged_in(other)


def test_29_failures_from_an_address_do_not_throttle_it_yet():
    users = [UserFactory(username=f"staff{i:02d}") for i in range(10)]
    client = Client()
    for i in range(29):
        post(client, users[i % 10].username, f"guess-{i}")
    assert (
        post(client, "staff09", PASSWORD).status_code == 302
    )  # staff09 had only 2 failures: under both limits


def test_a_locked_account_still_logs_in_from_another_address():
    UserFactory(username="wang")
    attacker = Client()
    for _ in range(10):
        post(attacker, "wang", "wrong-guess", address="203.0.113.9")
    assert post(attacker, "wang", PASSWORD, address="203.0.113.9").status_code == 200
    assert not logged_in(attacker)
    owner = Client()
    assert post(owner, "wang", PASSWORD, address="10.1.1.1").status_code == 302
    assert logged_in(owner)


def test_a_forged_forwarded_for_header_does_not_escape_the_throttle():
    UserFactory(username="wang")
    client = Client()
    for i in range(6):
        post(client, "wang", "wrong-guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    response = post(client, "wang", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert response.status_code == 200 and not logged_in(client)


def test_unknown_wrong_and_locked_answer_alike_after_the_same_work(settings):
    settings.PASSWORD_HASHERS = ["linli.accounts.tests.test_throttle.CountingHasher"]
    UserFactory(username="wang")
    UserFactory(username="locked")
    client = Client()
    for _ in range(5):
        post(client, "locked", "wrong-guess")
    answers = {}
    for case, (username, password) in {
        "missing": ("nobody", "wrong-guess"),
        "wrong": ("wang", "wrong-guess"),
        "locked": ("locked", PASSWORD),
    }.items():
        CountingHasher.calls = 0
        response = post(client, username, password)
        answers[case] = (response.status_code, form_error(response), CountingHasher.calls)
        assert not logged_in(client)
    assert answers["missing"] == answers["wrong"] == answers["locked"]
    status, error, hashes = answers["locked"]
    assert status == 200 and hashes == 1
    assert "用户名或密码错误".encode() in error


def test_the_whole_page_is_the_same_apart_from_the_echoed_username():
    UserFactory(username="locked")
    client = Client()
    for _ in range(5):
        post(client, "locked", "wrong-guess")

    def page(username, password):
        client.cookies.clear()  # a fresh CSRF cookie each time: take the token out before comparing
        body = post(client, username, password).content.decode()
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
        body = re.sub(r'"X-CSRFToken": "[^"]+"', "", body)
        return body.replace(f'value="{username}"', 'value=""')

    assert page("locked", PASSWORD) == page("nobody-xx", "wrong-guess")
