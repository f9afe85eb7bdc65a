from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "linli.api"
    label = "api"

    def ready(self) -> None:
        from linli.api.schemas import boundary_error
        from linli.core import boundary

        boundary.register_renderer("/api/", boundary_error)  # refusals at the edge as {"detail": …}
