"""Console URLs: administrators' resets of staff logins (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_logins

urlpatterns: list = [
    path("settings/logins/", views_logins.logins_page, name="logins"),
    path("settings/logins/password/", views_logins.login_password_reset, name="login_password_reset"),
    path("settings/logins/two-factor/", views_logins.login_two_factor_reset, name="login_two_factor_reset"),
]
