"""The cipher and data key a database was started with, stored once and checked at every start (ADR 0020).

LINLI_CIPHER (AES or SM4) and LINLI_DATA_KEY decide every keyed hash that ID numbers and phones are looked up and
kept unique by; a start with other values would silently break lookups and let duplicates in. So:

- the first ``migrate`` records both (``record`` through ``post_migrate``; the key only as a keyed digest of a fixed
  text, which reveals nothing of it);
- every later start compares them: ``linli serve`` and WSGI/ASGI servers (``require_match`` in
  ``linli.config.wsgi``/``asgi``), ``linli worker`` and ``linli monitor`` refuse to start, and ``linli manage migrate``
  or ``check --database default`` report the system check error ``linli.E001``/``linli.E002``.

An empty database (no table yet) passes: nothing is stored that the setting could contradict.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from linli.core.crypto import cipher

_CHECK_TEXT = "linli-installation-check"


def current() -> tuple[str, str]:
    """``(cipher, data_key_check)`` of the running configuration."""
    c = cipher()
    return c.algorithm, c.digest(_CHECK_TEXT, purpose="installation")


def record(*, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps) -> None:
    """Store the running configuration unless a row exists (the first start wins; later starts only compare)."""
    try:
        model = apps.get_model("core", "Installation")
    except LookupError:  # migrated backwards past the table
        return
    if model._meta.db_table not in connections[using].introspection.table_names():
        return
    algorithm, key_check = current()
    model.objects.using(using).get_or_create(
        id=1, defaults={"cipher": algorithm, "data_key_check": key_check}
    )


def problems(using: str = DEFAULT_DB_ALIAS) -> list[Error]:
    """What the stored row says against the running configuration; empty when they agree or nothing is stored."""
    from linli.core.models import Installation

    if Installation._meta.db_table not in connections[using].introspection.table_names():
        return []
    stored = Installation.objects.using(using).filter(id=1).first()
    if stored is None:
        return []
    algorithm, key_check = current()
    errors = []
    if stored.cipher != algorithm:
        errors.append(
            Error(
                f"LINLI_CIPHER is {algorithm!r} but this database was started with {stored.cipher!r}.",
                hint=f"Set LINLI_CIPHER={stored.cipher}. Switching the cipher of a live database changes every keyed "
                "hash: lookups by ID number and phone fail and duplicates get in (docs/operations.md).",
                id="linli.E001",
            )
        )
    elif stored.data_key_check != key_check:
        errors.append(
            Error(
                "LINLI_DATA_KEY is not the key this database was started with.",
                hint="Restore the original LINLI_DATA_KEY (environment or $LINLI_DATA_DIR/data_key): without it the "
                "stored ID numbers and phones cannot be decrypted or looked up (docs/operations.md).",
                id="linli.E002",
            )
        )
    return errors


class InstallationMismatch(ImproperlyConfigured, CommandError):
    """The configuration contradicts the database; a management command prints it without a traceback."""


def require_match(using: str = DEFAULT_DB_ALIAS) -> None:
    """Refuse to start (InstallationMismatch) when the configuration contradicts the database."""
    errors = problems(using)
    if errors:
        raise InstallationMismatch(" ".join(f"{e.msg} {e.hint}" for e in errors))


@register(Tags.database)
def check_installation(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """System check for ``migrate`` and ``check --database``: database-tagged, so it never runs without a database."""
    if not databases:
        return []
    errors: list[CheckMessage] = []
    for alias in databases:
        if alias in settings.DATABASES:
            errors.extend(problems(alias))
    return errors


def record_after_migrate(
    sender: Any, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps, **kwargs: Any
) -> None:
    """``post_migrate`` receiver (connected in ``CoreConfig.ready``)."""
    record(using=using, apps=apps)
