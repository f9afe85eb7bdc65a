"""Console URLs: metrics (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_metrics

urlpatterns = [
    path("metrics/", views_metrics.metrics_page, name="metrics"),
    path("metrics/export.xlsx", views_metrics.metrics_export, name="metrics_export"),
]
