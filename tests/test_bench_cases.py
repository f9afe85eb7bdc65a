"""The appeals benchmark's pure helpers (``bench/cases.py`` and its ``bench/_cases_*`` modules), not its timing."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bench._cases_util import (
    burst_rate,
    city_residents,
    escalation_sizes,
    lag_stats,
    lua_string,
    parse_wrk,
    parts_from,
    pct,
)
from bench._cases_world import Client, lua_data
from bench.cases import check_rows, indexes_in_plan, months_back


def test_parts_from_the_environment():
    assert parts_from(None) == ["create", "detail", "queue", "metrics", "escalation"]
    assert parts_from(" queue, CREATE ") == ["create", "queue"]  # the benchmark's order, not the variable's
    with pytest.raises(ValueError, match="nope"):
        parts_from("queue,nope")


def test_sizes():
    assert city_residents(10_000_000) == 1_000_000
    assert city_residents(20_000) == 20_000
    assert city_residents(100_000_000) == 1_000_000
    assert escalation_sizes(10_000_000) == (1_000_000, 10_000)
    assert escalation_sizes(20_000) == (2_000, 200)
    assert escalation_sizes(20_000, wave=5_000) == (2_000, 2_000)


def test_percentiles_and_lags():
    values = [float(i) for i in range(1, 101)]
    assert pct(values, 95) == 95.0
    assert pct(values, 100) == 100.0
    assert pct([3.0], 99) == 3.0
    assert math.isnan(pct([], 50))
    lags = lag_stats({1: 100.0, 2: 100.0, 3: 100.0, 4: 50.0}, {1: 110.0, 2: 160.0, 4: 49.0})
    assert (lags.count, lags.escalated, lags.missing, lags.early) == (4, 3, 1, 1)
    assert lags.max_s == 60.0
    assert burst_rate([0.0, 0.5, 1.0, 10.0], least=3) == pytest.approx(3.0)
    assert burst_rate([0.0, 5.0], least=2) == 0.0


def test_wrk_result_line():
    out = (
        "Running 5s test @ http://127.0.0.1:1\n"
        'BENCHJSON {"requests": 100, "duration_us": 5000000, "p50_us": 2000, "p90_us": 4000, "p99_us": 9000, '
        '"max_us": 12000, "errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 1}, '
        '"codes": {"201": 97, "409": 2, "200": 1}}\n'
    )
    r = parse_wrk(out)
    assert r.requests == 100 and r.seconds == 5.0 and r.per_s == 20.0
    assert (r.p50_ms, r.p99_ms, r.max_ms) == (2.0, 9.0, 12.0)
    assert r.count(201) == 97 and r.ok_per_s(201) == pytest.approx(19.4)
    assert r.errors({201}) == 2 + 1 + 2  # 409s, the replay's 200, read + timeout
    with pytest.raises(ValueError):
        parse_wrk("no result here")


def test_lua_data_quotes_whatever_the_bodies_hold():
    assert lua_string("a]]b") == "[=[a]]b]=]"
    assert lua_string("a]=]b]]") == "[==[a]=]b]]]==]"
    text = lua_data("/api/v1/cases", [Client("sess", "tok", ['{"d": "楼道]]灯"}'], [5, 7])])
    assert "sessionid=sess; csrftoken=tok" in text
    assert '[=[{"d": "楼道]]灯"}]=]' in text
    assert "ids = {5, 7}" in text


def test_row_check_after_the_creates():
    ok = {"cases": 105, "events": 105, "idempotency": 105, "audit": 105, "outbox": 210, "bare": 0}
    assert check_rows(ok, created=100, in_flight=16, outbox_per_case=2.0) == []
    assert check_rows(ok | {"audit": 104}, 100, 16, 2.0) == ["105 cases but 104 audit rows"]
    assert len(check_rows(ok, created=80, in_flight=16, outbox_per_case=2.0)) == 1
    assert len(check_rows(ok, created=100, in_flight=16, outbox_per_case=0.0)) == 1


def test_plan_and_months():
    plan = "Limit\n  ->  Index Scan using case_open_region on cases_case\n  ->  Bitmap Index Scan on case_region_id"
    assert indexes_in_plan(plan, ["case_open_region", "case_open_dept", "case_region"]) == [
        "case_open_region"
    ]
    months = months_back(dt.date(2026, 3, 15), 3)
    assert months == [
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 31)),
        (dt.date(2025, 12, 1), dt.date(2025, 12, 31)),
    ]
