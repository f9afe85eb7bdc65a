"""Template helpers of the mobile pages: status colours (always shown beside the status text)."""

from __future__ import annotations

from django import template

from linli.cases.choices import Status

register = template.Library()

_STATUS: dict[str, str] = {
    Status.SUBMITTED: "info",
    Status.TRIAGED: "info",
    Status.ASSIGNED: "info",
    Status.ACCEPTED: "info",
    Status.IN_PROGRESS: "info",
    Status.PAUSED: "warn",
    Status.RESOLVED: "ok",
    Status.AWAITING_CALLBACK: "ok",
    Status.CLOSED: "ok",
    Status.REJECTED: "muted",
    Status.MERGED: "muted",
}
_DEADLINE: dict[str, str] = {
    "overdue": "bad",
    "late": "bad",
    "soon": "warn",
    "paused": "warn",
    "ontime": "ok",
    "running": "info",
}


@register.filter
def status_class(status: str) -> str:
    return _STATUS.get(status, "info")


@register.filter
def deadline_class(state: str) -> str:
    return _DEADLINE.get(state, "muted")
