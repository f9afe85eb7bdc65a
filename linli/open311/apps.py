from django.apps import AppConfig


class Open311Config(AppConfig):
    """Open311 GeoReport v2 at ``/open311/v2/``: an adapter over the appeals loop, plus its API clients."""

    name = "linli.open311"
    label = "open311"
    verbose_name = "Open311"

    def ready(self) -> None:
        from linli.core import boundary
        from linli.open311.formats import boundary_error

        boundary.register_renderer("/open311/", boundary_error)  # refusals at the edge in the spec's format
