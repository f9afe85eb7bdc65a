"""``LINLI_PGBOUNCER=true`` (PgBouncer in transaction mode, ADR 0027) turns off Django's server-side cursors on
PostgreSQL: a ``WITH HOLD`` cursor outlives its transaction, and PgBouncer hands the server connection on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = (
    "import json; from linli.config import settings as s; "
    "print(json.dumps(s.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False)))"
)


def _disabled(**env: str) -> bool:
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LINLI_PGBOUNCER"}} | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return bool(json.loads(run.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgres://u@127.0.0.1:6432/linli", "LINLI_PGBOUNCER": "true"}, True),
        ({"DATABASE_URL": "postgres://u@127.0.0.1:5432/linli"}, False),
        ({"LINLI_PGBOUNCER": "true"}, False),  # SQLite has no server-side cursors to turn off
    ],
)
def test_pgbouncer_switch_disables_server_side_cursors(env, expected):
    assert _disabled(**env) is expected
