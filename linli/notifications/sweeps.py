"""The notifications sweep, registered with the monitor by ``linli.ops.sweeps`` (ops sits above this app)."""

from __future__ import annotations

from linli.notifications import services

NAME = "notifications_due"
EVERY_SECONDS = 30


def notifications_due() -> int:
    """Re-dispatch due messages whose task vanished and messages whose worker died mid-send."""
    return services.dispatch_due()
