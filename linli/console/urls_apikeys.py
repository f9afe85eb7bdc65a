"""Console URLs: apikeys (included from ``linli.console.urls``)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
