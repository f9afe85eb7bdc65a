"""The routing hook: a confident prediction that maps to an active category becomes the triage suggestion."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from linli.cases import routing
from linli.cases.models import Category
from linli.registry.models import Grid
from linli.triage import services
from linli.triage.model import join_text


def threshold() -> float:
    return float(getattr(settings, "LINLI_TRIAGE_AUTO_CONFIDENCE", 0.8))


def suggest_category(
    category: Category, grid: Grid, title: str, description: str
) -> routing.Suggestion | None:
    """None (category defaults apply) unless the active model is at least ``LINLI_TRIAGE_AUTO_CONFIDENCE`` sure
    and its label maps to an active category; then that category's level and department, marked ``triage:vN``."""
    text = join_text(title, description)
    if not text:
        return None
    row = services.active_row()
    if row is None:
        return None
    version, label_map = row
    prediction = services.load(version).classify(text, explain=0)
    if prediction.confidence < threshold():
        return None
    code = (label_map or {}).get(prediction.label)
    target = Category.objects.filter(code=code, active=True).first() if code else None
    if target is None:
        return None
    return replace(routing.category_defaults(target, grid), source=f"triage:v{version}")
