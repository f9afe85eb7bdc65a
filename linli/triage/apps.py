from django.apps import AppConfig


class TriageConfig(AppConfig):
    """Smart triage: classify appeal text into a category; plugs into ``linli.cases.routing.SUGGESTERS``."""

    name = "linli.triage"
    label = "triage"
    verbose_name = "Triage"

    def ready(self) -> None:
        from linli.cases import routing
        from linli.triage.suggest import suggest_category

        if suggest_category not in routing.SUGGESTERS:
            routing.SUGGESTERS.append(suggest_category)
