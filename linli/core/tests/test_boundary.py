"""The boundary (``linli.core.boundary``, ADR 0023): a NUL or an integer beyond 64 bits sent to any route in the
URLconf — in the path, the query string, a form or a JSON body, anonymously and as a superuser — is refused with a
400 (404 for a path parameter) and never reaches a view that would answer 500; the reproductions of issue #9 and
"nothing written" on refusal."""

from __future__ import annotations

import importlib
import io
import json
import re
from urllib.parse import quote

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from PIL import Image

from linli.cases import services
from linli.cases.models import Case, CaseEvent, Category, Whistle
from linli.core.boundary import INT64_MAX, INT64_MIN, int_out_of_range

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
BIG = str(INT64_MAX + 1)  # 9223372036854775808
SMALL = str(INT64_MIN - 1)
# Names the views and schemas read numbers from (a probe carries them all at once).
NAMES = (
    "id",
    "pk",
    "category",
    "grid",
    "building",
    "unit",
    "household",
    "parent",
    "after",
    "limit",
    "version",
)
NAMES += ("service_request_id", "department", "department_ids", "handler_user", "amount", "page")
_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)")


def _slot(name: str) -> str:
    return "{" + name + "}"


def _template(pattern) -> tuple[str, dict[str, str]]:
    """A URL template with ``{name}`` placeholders, and each parameter's harmless default value."""
    defaults: dict[str, str] = {}
    if isinstance(pattern, RoutePattern):
        text = _ROUTE_PARAM.sub(lambda m: defaults.setdefault(m[1], "1") and _slot(m[1]), str(pattern._route))
        return text, defaults

    def group(m: re.Match[str]) -> str:
        literal = m[2].split("|")[0]
        defaults[m[1]] = literal if re.fullmatch(r"[\w-]+", literal) else "1"
        return _slot(m[1])

    text = _REGEX_PARAM.sub(group, pattern._regex).lstrip("^").rstrip("$")
    return text.replace("\\.", ".").replace("\\", ""), defaults


def all_routes() -> list[tuple[str, dict[str, str]]]:
    """Every route of the URLconf, walked recursively: (template, default parameter values)."""
    routes: list[tuple[str, dict[str, str]]] = []

    def walk(patterns, prefix: str, defaults: dict[str, str]) -> None:
        for entry in patterns:
            text, found = _template(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + text, defaults | found)
            else:
                routes.append(("/" + prefix + text, defaults | found))

    walk(get_resolver().url_patterns, "", {})
    return routes


def _url(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace(_slot(name), quote(value, safe=""))
    return template


def probes(template: str, defaults: dict[str, str]) -> list[tuple[str, str, dict, int | None]]:
    """(method, url, extra client kwargs, expected status or None for "anything but a server error")."""
    plain = _url(template, defaults)
    out: list[tuple[str, str, dict, int | None]] = []
    for name in defaults:
        out.append(("get", _url(template, defaults | {name: NUL}), {}, 400))
        # A 64-bit overflow in the path names no record: 404 (or, inside a catch-all parameter, whatever the
        # route answers for an unknown path — never a 500).
        out.append(("get", _url(template, defaults | {name: BIG}), {}, None))
        out.append(("post", _url(template, defaults | {name: BIG}), {}, None))
    out += [
        ("get", plain + "?id=" + quote(NUL) + "&q=" + quote(NUL), {}, 400),
        *(("get", f"{plain}?{name}={BIG}", {}, 400) for name in NAMES),  # one at a time: none hides another
        ("get", plain + "?after=" + SMALL, {}, 400),
        ("post", plain, {"data": {"note": NUL, "id": "1"}}, 400),
        ("post", plain, {"data": dict.fromkeys(NAMES, BIG)}, 400),
        ("post", plain, {"data": f'{{"note": "{NUL}"}}', "content_type": "application/json"}, 400),
        ("post", plain, {"data": '{"note": "a\\u0000b"}', "content_type": "application/json"}, 400),
        ("post", plain, {"data": f'{{"department_ids": [{BIG}]}}', "content_type": "application/json"}, 400),
        ("post", plain, {"data": '{"lat": 1e400}', "content_type": "application/json"}, 400),
    ]
    return out


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def case(world, categories) -> Case:
    return services.case_create(
        channel="grid_worker", category=categories["flying_wire"], grid=world.g1a, description="楼道飞线充电"
    )


def test_the_walk_finds_every_kind_of_route():
    templates = {t for t, _ in all_routes()}
    assert len(templates) > 100
    for expected in (
        "/m/t/{token}/",
        "/open311/v2/tokens/{token}.{fmt}",
        "/api/v1/cases/{pk}/whistles",
        "/cases/{pk}/act/{action}/",
        "/healthz",
    ):
        assert expected in templates


@pytest.mark.parametrize("who", ["anonymous", "superuser"])
def test_every_route_refuses_nul_and_huge_integers_without_a_server_error(world, case, who):
    client = Client(raise_request_exception=False)
    before = (Case.objects.count(), CaseEvent.objects.count(), Whistle.objects.count())
    failures = []
    for template, defaults in all_routes():
        if "{pk}" in template and "/cases/" in template:
            defaults = defaults | {"pk": str(case.pk)}  # reach the view of a real case, not only a 404
        for method, url, kwargs, expected in probes(template, defaults):
            if who == "superuser":
                client.force_login(world.users["superuser"])  # again: a probe of /accounts/logout/ signs out
            response = getattr(client, method)(url, **kwargs)
            status = response.status_code
            if status >= 500 or (expected is not None and status != expected):
                failures.append(f"{method.upper()} {url!r} {kwargs.get('data', '')!r}: {status}")
    failures.sort(key=lambda line: not line.endswith((": 500", ": 502", ": 503")))  # server errors first
    assert not failures, "\n".join(failures[:40])
    assert (Case.objects.count(), CaseEvent.objects.count(), Whistle.objects.count()) == before


# ------------------------------------------------------------------------------- issue #9's reproductions


def test_nul_in_a_tracking_link_is_a_400_not_a_database_error():
    response = Client().get("/m/t/a%00b/")
    assert response.status_code == 400
    assert "空字符" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/open311/v2/requests.json?jurisdiction_id=x&service_request_id=%00",
        "/open311/v2/tokens/a%00b.json",
        "/open311/v2/requests.json?service_code=%00",
    ],
)
def test_open311_nul_gets_the_spec_error_list(url):
    response = Client().get(url)
    assert response.status_code == 400
    errors = response.json()
    assert errors[0]["code"] == 400 and "空字符" in errors[0]["description"]


def test_open311_xml_refusal_is_xml():
    response = Client().get("/open311/v2/requests.xml?service_request_id=%00")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/xml")
    assert b"<errors>" in response.content


def test_open311_post_with_nul_writes_nothing(world, categories):
    before = Case.objects.count()
    response = Client().post(
        "/open311/v2/requests.json",
        {"service_code": categories["noise"].service_code, "description": "噪音\x00扰民", "lat": "35.2"},
    )
    assert response.status_code == 400 and response.json()[0]["code"] == 400
    assert Case.objects.count() == before


def test_api_case_list_with_a_category_beyond_64_bits_is_a_400(world):
    client = Client()
    client.force_login(world.users["superuser"])
    response = client.get(f"/api/v1/cases?category={BIG}")
    assert response.status_code == 400
    assert "64 位" in response.json()["detail"]
    assert client.get("/api/v1/cases?category=9223372036854775807").status_code == 200  # the largest is fine


def test_api_path_beyond_64_bits_is_a_json_404(world):
    client = Client()
    client.force_login(world.users["superuser"])
    response = client.get(f"/api/v1/cases/{BIG}")
    assert response.status_code == 404 and "detail" in response.json()


def test_console_int_path_beyond_64_bits_is_a_404(world):
    client = Client()
    client.force_login(world.users["superuser"])
    assert client.get(f"/cases/{BIG}/").status_code == 404
    assert client.get(f"/residents/{BIG}/").status_code == 404


def test_whistle_with_a_huge_department_id_writes_nothing(world, case):
    client = Client()
    client.force_login(world.users["superuser"])
    before = (Whistle.objects.count(), CaseEvent.objects.count())
    body = f'{{"department_ids": [{BIG}], "reason": "需要住建部门到场"}}'
    response = client.post(f"/api/v1/cases/{case.pk}/whistles", body, content_type="application/json")
    assert response.status_code == 400
    assert (Whistle.objects.count(), CaseEvent.objects.count()) == before


def test_api_body_with_an_escaped_nul_writes_nothing(world, categories):
    client = Client()
    client.force_login(world.users["superuser"])
    before = Case.objects.count()
    body = {"category_id": categories["noise"].pk, "grid_id": world.g1a.pk, "description": "噪音\u0000扰民"}
    response = client.post("/api/v1/cases", json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "空字符" in response.json()["detail"]
    assert Case.objects.count() == before


def test_a_nul_in_a_cookie_or_header_is_refused_before_the_session_is_read():
    client = Client()
    client.cookies["sessionid"] = "abc\x00def"
    assert client.get("/").status_code == 400
    assert Client().get("/", HTTP_X_FORWARDED_FOR="1.2.3.4\x00").status_code == 400


def test_file_contents_may_hold_nul_bytes(world, case):
    """Only form fields and file names are checked: an image is binary and full of zero bytes."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 0)).save(out, format="PNG")
    assert b"\x00" in out.getvalue()
    client = Client()
    client.force_login(world.users["grid_worker"])
    photo = SimpleUploadedFile("p.png", out.getvalue(), content_type="image/png")
    response = client.post(f"/api/v1/cases/{case.pk}/photos", {"photos": [photo], "purpose": "report"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("value", "out"),
    [
        (BIG, True),
        (SMALL, True),
        (str(INT64_MAX), False),
        (str(INT64_MIN), False),
        (" +9223372036854775808 ", True),
        ("9_223_372_036_854_775_808", True),  # int() reads underscores
        ("１" * 20, True),  # and full-width digits
        ("37290119900101123X", False),
        ("12345", False),
        (2**64, True),
        (True, False),
    ],
)
def test_int_out_of_range(value, out):
    assert int_out_of_range(value) is out
