"""Browser hardening on every kind of page (ADR 0020): the Content-Security-Policy allows no inline or eval'd script,
no template carries an inline script or event handler, our JavaScript builds no HTML from strings, and answers to a
signed-in user (reveals, exports, record pages, the session API) are never stored by a cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from linli.cases import place_codes, services
from linli.cases.models import Category
from linli.config.env import secret_list_from_env_or_file, tile_origins
from linli.core.middleware import NoStoreForSignedInMiddleware
from linli.mobile import wishbox

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1] / "linli"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _pages(world) -> list[tuple[str, Client]]:
    anonymous, staff = Client(), Client()
    staff.force_login(world.users["community_worker"])
    code = place_codes.building_code(world.households["g1a"].building)
    return [
        ("/accounts/login/", anonymous),
        (f"/m/r/{code}/", anonymous),
        ("/healthz", anonymous),
        ("/", staff),
        (reverse("console:metrics"), staff),
        ("/api/v1/residents", staff),
        ("/api/v1/docs", staff),
        ("/admin/login/", anonymous),
    ]


def test_every_kind_of_page_has_a_policy_without_inline_script(world):
    for url, client in _pages(world):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"], url  # no 'unsafe-inline', no 'unsafe-eval', no CDN
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_map_tile_origin_is_allowed_as_an_image_source():
    assert tile_origins("") == []
    assert tile_origins("https://tiles.example.gov.cn/{z}/{x}/{y}.png") == ["https://tiles.example.gov.cn"]
    assert tile_origins("https://{s}.tile.example.cn:8443/{z}/{x}/{y}.png") == [
        "https://*.tile.example.cn:8443"
    ]
    with pytest.raises(SystemExit):
        tile_origins("javascript:alert(1)//{z}")


# ------------------------------------------------------------------------------- templates and our own scripts

_TEMPLATES = sorted(p for p in ROOT.rglob("templates/**/*.html"))
_SCRIPTS = sorted(p for p in ROOT.rglob("static/**/*.js") if "vendor" not in p.parts)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")", re.I)
_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
_EVALUATED = re.compile(r"javascript:|\bhx-on\b|hx-vals=['\"]js:|\bhx-trigger=\"[^\"]*\[", re.I)


def test_templates_carry_no_inline_script_handler_or_evaluated_attribute():
    assert len(_TEMPLATES) > 20
    offending = []
    for path in _TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for pattern in (_INLINE_SCRIPT, _HANDLER, _EVALUATED):
            offending += [f"{path.relative_to(ROOT)}: {m.group(0)[:60]}" for m in pattern.finditer(text)]
    assert offending == []


def test_our_scripts_never_turn_strings_into_html_or_code():
    assert len(_SCRIPTS) >= 4
    sink = re.compile(
        r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\""
    )
    assert [
        (p.name, m.group(0)) for p in _SCRIPTS for m in sink.finditer(p.read_text(encoding="utf-8"))
    ] == []
    # The one place that must return HTML (ECharts' tooltip formatter) escapes every data value.
    charts = (ROOT / "metrics/static/metrics/charts.js").read_text(encoding="utf-8")
    assert "function esc(" in charts
    for unescaped in ("+ it.seriesName", "[items[0].axisValueLabel]", "+ data.satisfaction_name"):
        assert unescaped not in charts


# ----------------------------------------------------------------------------------------------- no-store


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "") and "private" in response.get("Cache-Control", "")


def test_revealed_personal_data_is_never_stored(world):
    resident = world.residents["g1a"]
    staff = Client()
    staff.force_login(world.users["community_worker"])
    category = Category.objects.create(code="xss_probe", name="噪音扰民")
    case = services.case_create(
        category=category, grid=world.g1a, channel="grid_worker", description="夜间施工噪音",
        reporter_name="王建国", reporter_phone="13912345678",
    )  # fmt: skip
    answers = {
        "resident page": staff.get(reverse("console:resident", args=[resident.pk])),
        "resident reveal": staff.post(
            reverse("console:resident_reveal", args=[resident.pk, "id_number"]), {"reason": "核实身份"}
        ),
        "case page": staff.get(reverse("console:case", args=[case.pk])),
        "case reveal": staff.post(
            reverse("console:case_reveal", args=[case.pk, "phone"]), {"reason": "电话回访"}
        ),
        "api reveal": staff.post(
            f"/api/v1/residents/{resident.pk}/reveal",
            {"field": "phone", "reason": "电话回访"},
            content_type="application/json",
        ),
    }
    assert "13912345678" in answers["case reveal"].content.decode()
    assert answers["api reveal"].status_code == 200
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert _no_store(response), name


def test_no_store_is_for_signed_in_answers_without_their_own_cache_header(world):
    def view(cache_control: str | None):
        def respond(request):
            response = HttpResponse("ok")
            if cache_control:
                response["Cache-Control"] = cache_control
            return response

        return NoStoreForSignedInMiddleware(respond)

    signed_in, anonymous = RequestFactory().get("/"), RequestFactory().get("/")
    signed_in.user, anonymous.user = world.users["grid_worker"], AnonymousUser()
    assert _no_store(view(None)(signed_in))
    assert "Cache-Control" not in view(None)(anonymous)  # public pages keep their caching
    assert view("private, max-age=3600")(signed_in)["Cache-Control"] == "private, max-age=3600"


# ------------------------------------------------------------------------------------------- key rotation


def test_secret_key_fallbacks_come_from_the_environment_or_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", "old-key-1, old-key-2,")
    assert secret_list_from_env_or_file("SECRET_KEY_FALLBACKS") == ["old-key-1", "old-key-2"]
    keys = tmp_path / "fallbacks"
    keys.write_text("# rotated 2026-12\nold-key-3\n\nold-key-4\n", encoding="utf-8")
    monkeypatch.delenv("SECRET_KEY_FALLBACKS")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS_FILE", str(keys))
    assert secret_list_from_env_or_file("SECRET_KEY_FALLBACKS") == ["old-key-3", "old-key-4"]
    monkeypatch.setenv("SECRET_KEY_FALLBACKS_FILE", str(tmp_path / "missing"))
    with pytest.raises(SystemExit):
        secret_list_from_env_or_file("SECRET_KEY_FALLBACKS")


def _parse_in_subprocess(code: str, **env: str) -> str:
    environ = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY_FALLBACKS", "SECRET_KEY_FALLBACKS_FILE"}
    }
    environ.update(DJANGO_SETTINGS_MODULE="linli.config.settings", **env)
    script = (
        f"import django; django.setup(); from linli.cases.place_codes import parse; print(parse({code!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_printed_qr_codes_and_open_wish_forms_survive_a_key_rotation(world, settings):
    building = world.households["g1a"].building
    old = settings.SECRET_KEY
    code = place_codes.building_code(building)
    stamp = wishbox.sign_form(code)
    new = "n3w-" + "k" * 60
    # Rotated through the environment, as docs/operations.md says: the printed code is still genuine …
    assert _parse_in_subprocess(code, SECRET_KEY=new, SECRET_KEY_FALLBACKS=old) == f"('b', {building.pk})"
    # … and only while the old key stays among the fallbacks.
    assert _parse_in_subprocess(code, SECRET_KEY=new) == "None"
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = new, [old]
    assert place_codes.parse(code) == ("b", building.pk)
    assert wishbox.unsign_form(stamp, code) is not None  # a wish form opened before the rotation can be sent
    settings.SECRET_KEY_FALLBACKS = []
    assert wishbox.unsign_form(stamp, code) is None


def test_htmx_is_configured_never_to_evaluate_code_or_inject_styles():
    pages = [p for p in _TEMPLATES if "vendor/htmx.min.js" in p.read_text(encoding="utf-8")]
    assert len(pages) >= 2
    for path in pages:
        text = path.read_text(encoding="utf-8")
        for setting in ('"allowEval": false', '"allowScriptTags": false', '"includeIndicatorStyles": false'):
            assert setting in text, (path, setting)


def test_behind_a_tls_proxy_http_is_redirected_and_https_gets_hsts(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = Client().get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    secure = Client().get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert secure["Referrer-Policy"] == "same-origin"
