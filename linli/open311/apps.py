from django.apps import AppConfig


class Open311Config(AppConfig):
    """Open311 GeoReport v2 at ``/open311/v2/``: an adapter over the appeals loop, plus its API clients."""

    name = "linli.open311"
    label = "open311"
    verbose_name = "Open311"
