from django.apps import AppConfig


class MobileConfig(AppConfig):
    """The mobile pages: residents report from a building's QR code, follow their report and confirm it; the
    anonymous wish box; grid workers' quick entry, cases and patrols (一日双巡)."""

    name = "linli.mobile"
    label = "mobile"
    verbose_name = "Mobile"
