"""Leases: a row per name with a holder and an expiry, so that one process at a time does a piece of exclusive
work (the scheduled retrain) however many workers and monitors run, on SQLite and PostgreSQL alike (ADR 0027).

Why not a lock: on SQLite a "lock" is a write transaction, which stops every other write of the site for as long as
it is open; on PostgreSQL a session-level advisory lock belongs to a server connection, which PgBouncer in
transaction mode hands to someone else after each transaction. A lease needs neither: each step is one short
conditional UPDATE in autocommit.

* ``acquire``: create the row if missing (``INSERT … ON CONFLICT DO NOTHING``), then take it where it is free or
  expired — ``UPDATE … WHERE name = %s AND expires_at <= now``. One row updated: it is ours; none: someone holds it.
* ``renew``: ``UPDATE … WHERE holder = me`` pushes the expiry on; none updated means the lease expired and was taken
  over (the holder must then publish nothing). ``held`` renews from a heartbeat thread every third of the lease
  while the work runs, and its ``check`` renews once more inside the transaction that publishes the work.
* ``release``: ``UPDATE … WHERE holder = me`` frees it at once. A holder that died simply lets it expire.

Expiry compares the clocks of the machines involved: keep them in sync (NTP) and the lease far longer than skew.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from linli.core.errors import LinliError
from linli.triage.models import Lease

logger = logging.getLogger("linli.triage")


class LeaseLost(LinliError):
    """The lease expired and another process took it over: the work must not be published."""


def new_holder() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(6)}"


def acquire(name: str, seconds: float, holder: str | None = None) -> str | None:
    """Take lease ``name`` for ``seconds`` if it is free or expired: the holder id, or None when someone holds it."""
    holder = holder or new_holder()
    now = timezone.now()
    Lease.objects.bulk_create([Lease(name=name, holder="", expires_at=now)], ignore_conflicts=True)
    taken = Lease.objects.filter(name=name, expires_at__lte=now).update(
        holder=holder, expires_at=now + dt.timedelta(seconds=seconds), acquired_at=now
    )
    return holder if taken else None


def renew(name: str, holder: str, seconds: float) -> bool:
    """Push the expiry of our lease ``seconds`` on; False when it is no longer ours (expired and taken over)."""
    until = timezone.now() + dt.timedelta(seconds=seconds)
    return bool(Lease.objects.filter(name=name, holder=holder).update(expires_at=until))


def release(name: str, holder: str) -> None:
    """Free our lease at once (nothing happens when it is no longer ours)."""
    Lease.objects.filter(name=name, holder=holder).update(holder="", expires_at=timezone.now())


@dataclass
class Held:
    """A lease ``held`` holds: ``check`` inside the transaction that publishes the work."""

    name: str
    holder: str
    seconds: float
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Renew the lease, or raise ``LeaseLost`` when it was taken over. Called in the publishing transaction, the
        conditional UPDATE also keeps anyone from taking it over before that transaction commits."""
        if self.lost.is_set() or not renew(self.name, self.holder, self.seconds):
            self.lost.set()
            raise LeaseLost(f"租约 {self.name} 已过期并被其他进程接管，本次结果不予保存")


def _heartbeat(lease: Held, stop: threading.Event) -> None:
    """Renew every third of the lease until told to stop, on this thread's own database connection."""
    try:
        while not stop.wait(lease.seconds / 3):
            try:
                if not renew(lease.name, lease.holder, lease.seconds):
                    lease.lost.set()
                    logger.warning("lease %s was taken over from %s", lease.name, lease.holder)
                    return
            except Exception:  # a failed renewal is retried at the next beat; the lease may still expire
                logger.exception("renewing lease %s failed", lease.name)
    finally:
        connection.close()


@contextmanager
def held(name: str, seconds: float, *, heartbeat: bool = True) -> Iterator[Held | None]:
    """Hold lease ``name`` for the block (None when another process holds it), renewed while the block runs and
    released at its end. Use it outside any transaction: the lease must be seen by others while the work runs."""
    holder = acquire(name, seconds)
    if holder is None:
        yield None
        return
    lease = Held(name, holder, seconds)
    stop = threading.Event()
    beat = None
    if heartbeat:
        beat = threading.Thread(target=_heartbeat, args=(lease, stop), name=f"lease-{name}", daemon=True)
        beat.start()
    try:
        yield lease
    finally:
        stop.set()
        if beat is not None:
            beat.join()
        release(name, holder)
