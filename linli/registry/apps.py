from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "linli.registry"
    label = "registry"
    verbose_name = "Registry"
