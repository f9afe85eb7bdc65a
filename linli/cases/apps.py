from django.apps import AppConfig


class CasesConfig(AppConfig):
    """Appeals (民情诉求): intake, triage, handling within working-day limits, escalation, callback, metrics."""

    name = "linli.cases"
    label = "cases"
    verbose_name = "Cases"
