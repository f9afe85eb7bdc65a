from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "linli.api"
    label = "api"
