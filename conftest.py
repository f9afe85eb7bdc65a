"""Test set-up shared by every app (the environment itself is set by ``linli.testing.pytest_env``)."""

import pytest

pytest_plugins = ["linli.testing.fixtures"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
