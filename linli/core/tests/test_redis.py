"""When REDIS_URL is set (CI's PostgreSQL run), the cache really talks to Redis."""

import pytest
from django.conf import settings
from django.core.cache import cache


@pytest.mark.skipif(
    not settings.REDIS_URL, reason="REDIS_URL not set: the SQLite run uses the local-memory cache"
)
def test_cache_round_trip_through_redis():
    import redis

    cache.set("linli-ci-probe", {"a": 1}, 30)
    assert cache.get("linli-ci-probe") == {"a": 1}
    assert redis.Redis.from_url(settings.REDIS_URL).ping()
