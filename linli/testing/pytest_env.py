"""Loaded with ``-p`` before pytest-django reads the settings: every test run gets its own data dir, keys and
inline tasks, so parallel runs never share a SQLite file. The data dir is removed when the run ends."""

import atexit
import os
import shutil
import tempfile

if "LINLI_DATA_DIR" not in os.environ:
    _data_dir = tempfile.mkdtemp(prefix="linli-test-")
    os.environ["LINLI_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)
os.environ.setdefault("LINLI_TASKS_BACKEND", "immediate")
# No persistent connections: the live server's request threads must not hold sessions open past the run.
os.environ.setdefault("LINLI_CONN_MAX_AGE", "0")
os.environ.setdefault("LINLI_DATA_KEY", "test-data-key-not-secret")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-secret")
# Two-factor login (ADR 0022): the suite's many staff logins (force_login, the browser tests' live server) are
# "enrolled later", as in `linli demo`; linli/accounts/tests switch enforcement on where they test it.
os.environ.setdefault("LINLI_2FA_ENFORCE", "false")
# Parallel workers share CI's Redis database: each keeps its cache keys (rate-limit counters) under its own prefix.
# (Workers inherit the controller's environment, so a worker always sets its own.)
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["LINLI_CACHE_KEY_PREFIX"] = "test-" + os.environ["PYTEST_XDIST_WORKER"]
else:
    os.environ.setdefault("LINLI_CACHE_KEY_PREFIX", "test-main")
