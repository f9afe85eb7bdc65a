"""Background tasks of the notifications app. Thin: ids in, call a service."""

from __future__ import annotations

from django_tasks import task

from linli.notifications import services


@task()
def deliver_message(message_id: int) -> str | None:
    return services.deliver(message_id)
