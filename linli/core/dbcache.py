"""Django's database cache with an ``incr`` fit for rate-limit counters.

Without Redis the cache lives in the database (one table, created by ``linli.mobile``'s migration
``0002_cache_table`` or ``linli manage createcachetable``), so every web process sees the same counters. Django's
``DatabaseCache.incr`` is a ``get`` followed by a ``set``: two concurrent requests can both read 4 and both write 5
(a lost count), and the ``set`` gives the row the default timeout again (300 s), so a counter of a one-hour window
would start over five minutes after its last increment. Here ``incr`` reads the row and rewrites its value alone in
one transaction that holds the row: SQLite's ``BEGIN IMMEDIATE`` (our ``transaction_mode``) takes the write lock
before the read; PostgreSQL locks the row with ``SELECT … FOR UPDATE``. The expiry set by ``add`` is kept.
"""

from __future__ import annotations

import base64
import pickle  # values are written by this cache only, as Django's DatabaseCache does
from typing import Any

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, models, router, transaction
from django.utils.timezone import now


class DatabaseCache(DjangoDatabaseCache):
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        cache_key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote = connection.ops.quote_name
        table = quote(self._table)  # type: ignore[attr-defined]
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('value')}, {quote('expires')} FROM {table} WHERE {quote('cache_key')} = %s{lock}",  # noqa: S608
                [cache_key],
            )
            row = cursor.fetchone()
            if row is None or self._expired(connection, row[1]):
                raise ValueError(f"Key '{key}' not found")
            value = pickle.loads(base64.b64decode(connection.ops.process_clob(row[0]).encode()))  # noqa: S301
            value += delta
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET {quote('value')} = %s WHERE {quote('cache_key')} = %s",  # noqa: S608
                [encoded, cache_key],
            )
        return value

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        return self.incr(key, -delta, version)

    @staticmethod
    def _expired(connection: Any, expires: Any) -> bool:
        expression = models.Expression(output_field=models.DateTimeField())
        for converter in connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        ):
            expires = converter(expires, expression, connection)
        return bool(expires < now())
