from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """One notification service with pluggable channels, sent through a transactional outbox."""

    name = "linli.notifications"
    label = "notifications"
    verbose_name = "Notifications"
