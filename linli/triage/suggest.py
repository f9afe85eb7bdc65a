"""The classifier's suggestion for an appeal, and the routing hook that turns a confident one into an automatic
triage at intake.

``suggestion_for`` answers for any text (the console's triage form, the API): the label the active model picks,
the active category it maps to (``TriageModel.label_map``), its confidence, the terms that drove it, and that
category's level and department by the appeals rules (``routing.category_defaults``). ``suggest_category`` is the
``routing.SUGGESTERS`` hook: only a suggestion at or above ``LINLI_TRIAGE_AUTO_CONFIDENCE`` whose label maps to an
active category counts, and with ``LINLI_TRIAGE_AUTO_ROUTE`` on, for an appeal of a channel in
``LINLI_TRIAGE_AUTO_ROUTE_CHANNELS`` (residents' own: QR page, Open311, wish box), it carries the ``auto`` mark that
makes ``case_create`` triage the case at once (``linli.cases.services._step_triage``, actor = the system). On staff
channels the suggestion is shown, never applied (ADR 0027); ``case_create`` never applies it to a case a signed-in
staff member entered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from linli.cases import routing
from linli.cases.models import Case, Category
from linli.org.models import Department
from linli.registry.models import Grid
from linli.triage import services
from linli.triage.model import join_text

TERMS = 5


def threshold() -> float:
    return float(getattr(settings, "LINLI_TRIAGE_AUTO_CONFIDENCE", 0.8))


def auto_route_channels() -> list[str]:
    return list(getattr(settings, "LINLI_TRIAGE_AUTO_ROUTE_CHANNELS", ["qr_resident", "open311", "wish_box"]))


def auto_route_enabled(channel: str | None = None) -> bool:
    """Auto-routing is on, for ``channel`` (None: for any channel at all)."""
    if not getattr(settings, "LINLI_TRIAGE_AUTO_ROUTE", True):
        return False
    channels = auto_route_channels()
    return bool(channels) if channel is None else channel in channels


@dataclass(frozen=True)
class TriageSuggestion:
    """What the active model says about one text. ``category`` is None when its label maps to no active one."""

    label: str
    confidence: float
    model_version: int
    category: Category | None = None
    handling_level: str | None = None
    department: Department | None = None
    terms: list[str] = field(default_factory=list)
    channel: str | None = None  # the appeal's channel, when known (None: a text alone)

    @property
    def confident(self) -> bool:
        return self.category is not None and self.confidence >= threshold()

    @property
    def would_auto_route(self) -> bool:
        """A new appeal with this text, of this channel (unknown: of some auto-routed channel), would be triaged
        automatically (unless staff entered it)."""
        return self.confident and auto_route_enabled(self.channel)

    def mark(self) -> dict[str, Any]:
        """What an automatic triage records (``CaseEvent.data["auto"]``, with ``previous`` added by the triage)."""
        return {
            "model": self.model_version,
            "confidence": round(self.confidence, 4),
            "label": self.label,
            "terms": list(self.terms),
        }


def _category(code: str | None) -> Category | None:
    return Category.objects.filter(code=code, active=True).first() if code else None


def suggestion_for(
    title: str,
    description: str = "",
    grid: Grid | None = None,
    *,
    explain: int = TERMS,
    channel: str | None = None,
) -> TriageSuggestion | None:
    """The active model's suggestion for an appeal's text; None when no model is active or there is no text.

    Without a grid a department-level category names no department (departments are found by place)."""
    text = join_text(title, description)
    if not text:
        return None
    row = services.active_row()
    if row is None:
        return None
    version, label_map = row
    prediction = services.load(version).classify(text, explain)
    terms = [term.strip() for term, weight in prediction.explain if term.strip() and weight > 0]
    found = TriageSuggestion(
        label=prediction.label,
        confidence=float(prediction.confidence),
        model_version=version,
        terms=terms,
        channel=channel,
    )
    category = _category((label_map or {}).get(prediction.label))
    if category is None:
        return found
    if grid is not None:
        defaults = routing.category_defaults(category, grid)
        return replace(
            found, category=category, handling_level=defaults.handling_level, department=defaults.department
        )
    return replace(found, category=category, handling_level=category.default_level)


def suggestion_for_case(case: Case, *, explain: int = TERMS) -> TriageSuggestion | None:
    return suggestion_for(case.title, case.description, case.grid, explain=explain, channel=case.channel)


def suggest_category(
    category: Category, grid: Grid, title: str, description: str, *, channel: str = ""
) -> routing.Suggestion | None:
    """The ``routing.SUGGESTERS`` hook: None (category defaults apply) unless the active model is at least
    ``LINLI_TRIAGE_AUTO_CONFIDENCE`` sure and its label maps to an active category; then that category's level and
    department, marked ``triage:vN``, and (auto-routing on for the intake's ``channel``) the mark that has intake
    triage the case at once. Without a channel (not an intake) never that mark."""
    found = suggestion_for(title, description, None)
    if found is None or not found.confident or found.category is None:
        return None
    defaults = routing.category_defaults(found.category, grid)
    return replace(
        defaults,
        source=f"triage:v{found.model_version}",
        auto=found.mark() if channel and auto_route_enabled(channel) else None,
    )
