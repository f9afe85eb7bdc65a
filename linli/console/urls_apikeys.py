"""Console URLs: apikeys (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_apikeys

urlpatterns: list = [
    path("settings/api-keys/", views_apikeys.apikeys_page, name="apikeys"),
    path("settings/api-keys/<int:pk>/revoke/", views_apikeys.apikey_revoke, name="apikey_revoke"),
]
