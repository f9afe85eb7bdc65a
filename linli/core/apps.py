from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "linli.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from linli.core.files import private_sqlite

        connection_created.connect(private_sqlite, dispatch_uid="linli.core.private_sqlite")

        from linli.core import admin_names

        admin_names.apply()

        # The database system check and the cipher recorded at the first migrate (ADR 0020).
        from django.db.models.signals import post_migrate

        from linli.core import installation

        post_migrate.connect(
            installation.record_after_migrate, sender=self, dispatch_uid="linli.core.installation"
        )
