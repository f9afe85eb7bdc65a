"""The database cache that carries the rate limits without Redis (ADR 0021): ``incr`` keeps the expiry ``add`` gave
(Django's own resets it to 300 s, so an hourly limit would start over after five quiet minutes) and loses no count
under concurrent requests."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

from linli.core.dbcache import DatabaseCache

IN_DATABASE = "DatabaseCache" in settings.CACHES["default"]["BACKEND"]


@pytest.fixture
def dbcache(db, settings):
    """A database cache on its own table, created inside the test's transaction (whatever CACHES says)."""
    settings.CACHES = settings.CACHES | {
        "probe": {"BACKEND": "linli.core.dbcache.DatabaseCache", "LOCATION": "linli_cache_test"}
    }
    call_command("createcachetable", database="default", verbosity=0)
    return DatabaseCache("linli_cache_test", {})


def _expires(key: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM linli_cache_test WHERE cache_key = %s", [key])
        return cursor.fetchone()[0]


def test_incr_keeps_the_expiry_and_counts(dbcache):
    assert dbcache.add("k", 1, 3600)
    full_key = dbcache.make_and_validate_key("k")
    expires = _expires(full_key)
    assert dbcache.incr("k") == 2
    assert dbcache.incr("k", 5) == 7
    assert dbcache.decr("k") == 6
    assert _expires(full_key) == expires  # Django's DatabaseCache.incr would have moved it to now + 300 s
    assert dbcache.get("k") == 6
    with pytest.raises(ValueError):
        dbcache.incr("missing")


@pytest.mark.skipif(not IN_DATABASE, reason="the configured cache is Redis (its INCR is atomic)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_lose_nothing():
    from django.core.cache import cache

    cache.add("linli-test-counter", 0, 3600)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(10):
                cache.incr("linli-test-counter")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache.get("linli-test-counter") == 40
    cache.delete("linli-test-counter")
