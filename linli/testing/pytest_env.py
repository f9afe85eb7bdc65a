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
