"""Two-factor login (issue #9 item 8): TOTP required for superusers and county/city administrators, enrolment
with a QR code, recovery codes, verification after the password, reset by an administrator with an audit record."""

import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from linli.audit.models import ChangeRecord

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _enforced(settings):
    settings.LINLI_2FA_ENFORCE = True  # the production default (the suite relaxes it, as the demo does)


def password_login(username: str) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    return (
        f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"
    )


def enrol(client: Client, user) -> tuple[TOTPDevice, list[str]]:
    page = client.get("/accounts/two-factor/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/accounts/two-factor/", {"token": code(device)})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", response.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def test_production_enforces_two_factor_by_default(monkeypatch):
    import importlib.util

    monkeypatch.delenv("LINLI_2FA_ENFORCE", raising=False)
    from linli.config import settings as loaded

    spec = importlib.util.spec_from_file_location("fresh_settings", loaded.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.LINLI_2FA_ENFORCE is True
    assert module.LINLI_2FA_REQUIRED_POSTS == ["county_admin", "city_admin"]


def test_a_county_admin_cannot_reach_the_console_before_enrolling(world):
    client = password_login("county_admin")
    response = client.get("/residents/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/?next=")
    assert client.get("/api/v1/grids").status_code == 401
    enrol(client, world.users["county_admin"])
    assert client.get("/residents/").status_code == 200
    assert client.get("/api/v1/grids").status_code == 200


def test_an_enrolled_user_must_verify_after_the_password(world):
    first = password_login("county_admin")
    device, _ = enrol(first, world.users["county_admin"])
    client = password_login("county_admin")
    response = client.get("/residents/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/verify/")
    assert client.post("/accounts/two-factor/verify/", {"token": "000000"}).status_code == 200
    assert client.get("/residents/").status_code == 302
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=90)):
        device.refresh_from_db()
        response = client.post("/accounts/two-factor/verify/", {"token": code(device), "next": "/residents/"})
        assert response.status_code == 302 and response["Location"] == "/residents/"
        assert client.get("/residents/").status_code == 200


def test_a_recovery_code_works_once(world):
    first = password_login("county_admin")
    _, codes = enrol(first, world.users["county_admin"])
    client = password_login("county_admin")
    assert client.post("/accounts/two-factor/verify/", {"token": codes[3]}).status_code == 302
    assert client.get("/residents/").status_code == 200
    assert not StaticToken.objects.filter(token=codes[3]).exists()
    again = password_login("county_admin")
    response = again.post("/accounts/two-factor/verify/", {"token": codes[3]})
    assert response.status_code == 200 and "验证码不正确" in response.content.decode()
    assert again.get("/residents/").status_code == 302


def test_a_wrong_code_does_not_confirm_the_enrolment(world):
    client = password_login("county_admin")
    client.get("/accounts/two-factor/")
    response = client.post("/accounts/two-factor/", {"token": "123456x"})
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get("/residents/").status_code == 302


def test_superusers_need_it_and_grid_workers_do_not(world):
    assert password_login("superuser").get("/residents/").status_code == 302
    assert password_login("grid_worker").get("/residents/").status_code == 200


def test_the_required_post_kinds_are_configurable(world, settings):
    settings.LINLI_2FA_REQUIRED_POSTS = ["grid_worker"]
    assert password_login("grid_worker").get("/residents/").status_code == 302
    assert password_login("county_admin").get("/residents/").status_code == 200


def test_when_not_enforced_unenrolled_admins_go_on_but_enrolled_ones_still_verify(world, settings):
    settings.LINLI_2FA_ENFORCE = False
    assert password_login("county_admin").get("/residents/").status_code == 200
    enrol(password_login("street_staff"), world.users["street_staff"])
    assert password_login("street_staff").get("/residents/").status_code == 302


def test_an_admin_reset_of_two_factor_is_audited(world):
    target = world.users["county_admin"]
    enrol(password_login("county_admin"), target)
    admin = password_login("superuser")
    enrol(admin, world.users["superuser"])  # the superuser's own session is verified
    response = admin.post("/settings/logins/two-factor/", {"username": "county_admin"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=target).exists()
    record = ChangeRecord.objects.get(entity="accounts.user", entity_id=target.pk)
    assert record.actor == world.users["superuser"] and record.note == "two-factor reset by administrator"
    # The next login leads to enrolment again.
    response = password_login("county_admin").get("/residents/")
    assert response["Location"].startswith("/accounts/two-factor/?next=")


def test_a_two_factor_reset_outside_ones_authority_is_refused(world):
    target = world.users["county_admin"]
    enrol(password_login("county_admin"), target)
    client = Client()
    client.force_login(world.users["secretary"])
    assert client.post("/settings/logins/two-factor/", {"username": "county_admin"}).status_code == 403
    assert TOTPDevice.objects.filter(user=target, confirmed=True).exists()
    assert not ChangeRecord.objects.filter(entity="accounts.user").exists()


def test_the_demo_server_lets_unenrolled_demo_logins_in(monkeypatch, settings):
    """`linli demo` serves with enforcement off (its logins are "enrolled later"); production keeps it on."""
    import waitress

    from linli.ops import runtime
    from linli.ops.management.commands.linli_demo import Command

    seen = {}
    monkeypatch.setattr(runtime, "start_background", lambda: None, raising=False)
    monkeypatch.setattr(
        waitress, "serve", lambda *a, **k: seen.setdefault("enforce", settings.LINLI_2FA_ENFORCE)
    )
    Command().serve(0)
    assert seen == {"enforce": False}


def test_someone_with_only_the_password_cannot_change_it(world):
    user = world.users["county_admin"]
    enrol(password_login("county_admin"), user)
    client = password_login("county_admin")
    new = "a-brand-new-passphrase"
    response = client.post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/verify/")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
