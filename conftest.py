"""Test set-up shared by every app: a throw-away data dir, fast password hashing, immediate tasks."""

import os
import tempfile

os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-test-"))
os.environ.setdefault("LINLI_TASKS_BACKEND", "immediate")
os.environ.setdefault("LINLI_DATA_KEY", "test-data-key-not-secret")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-secret")

import pytest

pytest_plugins = ["linli.testing.fixtures"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
