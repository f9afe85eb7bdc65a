"""Loaded with ``-p`` before pytest-django reads the settings: every test run gets its own data dir, keys and
inline tasks, so parallel runs never share a SQLite file."""

import os
import tempfile

os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-test-"))
os.environ.setdefault("LINLI_TASKS_BACKEND", "immediate")
os.environ.setdefault("LINLI_DATA_KEY", "test-data-key-not-secret")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-secret")
