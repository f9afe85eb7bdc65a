from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations commands behind the ``linli`` CLI: demo, serve, worker, monitor, import, export, bench."""

    name = "linli.ops"
    label = "ops"
