"""Schemathesis over the REST API's own OpenAPI schema (issue #9): every operation, signed in as a superuser, with
a small, derandomised set of generated requests (valid and invalid) against the WSGI application — no answer may be
a server error, and every answer must have a declared status code and match the schema declared for it.

Bounded so the whole module runs in about a minute on SQLite: a few examples per operation, no shrinking, no
deadline. The database is the test's (rolled back afterwards); a small county with a case of each kind gives the
generated ids something to find."""

from __future__ import annotations

import importlib

import pytest
import schemathesis
from django.apps import apps as django_apps
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from linli.api.router import api
from linli.cases import services
from linli.cases.models import Category
from linli.testing.fixtures import build_world

pytestmark = pytest.mark.django_db

CSRF = "s" * 32  # a CSRF secret sent as cookie and header (Django accepts the unmasked 32-character form)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
schema.app = WSGIHandler()


@pytest.fixture
def session_cookies(db) -> dict[str, str]:
    """A signed-in superuser over a small county with cases, and the cookies that carry the session."""
    from django.test import Client

    world = build_world()
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    for grid in (world.g1a, world.g2):
        services.case_create(
            channel="grid_worker",
            category=Category.objects.get(code="noise"),
            grid=grid,
            description="夜间装修噪音扰民",
        )
    client = Client()
    client.force_login(world.users["superuser"])
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests run in this thread on the test's transaction: like Django's test client, do not let the
    request signals close the connection in the middle of it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_operation(case, session_cookies):
    case.call_and_validate(
        cookies=session_cookies, headers={"X-CSRFToken": CSRF, "Referer": "http://localhost/"}, checks=CHECKS
    )
