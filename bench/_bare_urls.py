"""The production URLconf plus ``POST /bench/bare``: the baseline of the create benchmark.

The bare view does what any write endpoint cannot avoid under the same server and middleware (session and user
loaded, CSRF checked, the JSON body parsed) and then exactly one INSERT into ``bench_bare`` (a table the
benchmark creates in its own database), answering 201 with the new id. The ratio of the API's creates/s to
this view's inserts/s is the price of everything a real create does on top: validation, scope, idempotency
row, case number, deadlines, routing, timeline, audit and the detail in the answer.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_POST

TABLE = "bench_bare"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), key text NOT NULL, body jsonb NOT NULL)"
)


@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "未登录"}, status=401)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "请求体不是 JSON"}, status=400)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {TABLE} (key, body) VALUES (%s, %s) RETURNING id",
            [request.headers.get("Idempotency-Key", ""), json.dumps(body, ensure_ascii=False)],
        )
        (pk,) = cur.fetchone()
    return JsonResponse({"id": pk}, status=201)


urlpatterns = [
    path("bench/bare", bare_insert, name="bench_bare"),
    path("", include("linli.config.urls")),
]
