from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """The "三率" of the appeals loop (response, on-time resolution, resolution, satisfaction), rework and handling
    time: daily rollups refreshed by the monitor, scoped selectors, the console page, the REST endpoint and .xlsx."""

    name = "linli.metrics"
    label = "metrics"
    verbose_name = "Metrics"
