"""REST endpoints of smart triage: the classifier's suggestion for a text, its versions (list, activate, roll
back) and the possible duplicates of a case.

Thin: scope from ``linli.org.access`` (a suggestion needs case rights and a grid in scope; the version list needs
triage rights; activating and rolling back a version is installation-wide, so ``Cap.CONFIGURE`` as for the
categories), the work in ``linli.triage``. Duplicates are those of a case the caller sees, among cases they see.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from linli.api.schemas import FieldErrorOut
from linli.cases import selectors
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Grid
from linli.triage import duplicates, services
from linli.triage.models import TriageModel
from linli.triage.suggest import suggestion_for

router = Router(tags=["triage"])


class SuggestIn(Schema):
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=5000)
    grid_id: int | None = Field(default=None, description="the place: finds the department of the category")


class SuggestOut(Schema):
    model_version: int | None = Field(
        description="the active model; null when none is active (all else empty)"
    )
    label: str | None = Field(description="the model's own label")
    category: str | None = Field(description="code of the active category the label maps to, if any")
    category_id: int | None
    category_name: str | None
    confidence: float | None = Field(description="0–1")
    terms: list[str] = Field(description="the words that drove the suggestion, strongest first")
    level: str | None = Field(description="the category's handling level (appeals rules)")
    department_id: int | None = Field(description="the category's department for the grid, when it has one")
    department: str | None = Field(description="that department's name")
    would_auto_route: bool = Field(
        description="a new appeal with this text would be triaged automatically (confidence at or above "
        "LINLI_TRIAGE_AUTO_CONFIDENCE, a mapped active category, LINLI_TRIAGE_AUTO_ROUTE on) when it comes "
        "through a channel in LINLI_TRIAGE_AUTO_ROUTE_CHANNELS and no staff member entered it"
    )


class ModelOut(Schema):
    version: int
    active: bool
    created_at: dt.datetime
    activated_at: dt.datetime | None
    source: str
    labels: list[str]
    label_map: dict[str, str]
    metrics: dict[str, Any] = Field(
        description="cross-validation: macro_f1, accuracy, train_rows, confusion …"
    )


class DuplicateOut(Schema):
    case_id: int
    number: str
    title: str
    status: str
    score: float = Field(description="0–1: text similarity raised by place and a shared category")
    similarity: float = Field(description="0–1: cosine of character 1–2-grams")
    place: str = Field(description="building, grid or radius: the closest way the two are related in place")
    distance_m: float | None
    same_category: bool
    terms: list[str] = Field(description="shared terms")


def _model_out(row: TriageModel) -> ModelOut:
    return ModelOut(
        version=row.version,
        active=row.active,
        created_at=row.created_at,
        activated_at=row.activated_at,
        source=row.source,
        labels=list(row.labels or []),
        label_map=dict(row.label_map or {}),
        metrics=dict(row.metrics or {}),
    )


_ERRORS = {400: FieldErrorOut, 403: FieldErrorOut, 404: FieldErrorOut}


@router.post("/triage/suggest", response={200: SuggestOut, **_ERRORS}, summary="The classifier's suggestion")
def suggest(request: HttpRequest, body: SuggestIn) -> SuggestOut | Status[FieldErrorOut]:
    scope = access.scope_for(request.user, Cap.CASE_VIEW)
    if scope.empty:
        return Status(403, FieldErrorOut(detail="您没有诉求办理权限"))
    grid = None
    if body.grid_id is not None:
        grid = scope.apply(Grid.objects.filter(pk=body.grid_id)).first()
        if grid is None:
            return Status(404, FieldErrorOut(detail="网格不存在或不在您的管辖范围内", field="grid_id"))
    if not (body.title.strip() or body.description.strip()):
        return Status(400, FieldErrorOut(detail="请填写诉求标题或内容", field="description"))
    found = suggestion_for(body.title, body.description, grid)
    if found is None:
        return SuggestOut(
            model_version=None,
            label=None,
            category=None,
            category_id=None,
            category_name=None,
            confidence=None,
            terms=[],
            level=None,
            department_id=None,
            department=None,
            would_auto_route=False,
        )
    category, department = found.category, found.department
    return SuggestOut(
        model_version=found.model_version,
        label=found.label,
        category=category.code if category else None,
        category_id=category.pk if category else None,
        category_name=category.name if category else None,
        confidence=round(found.confidence, 4),
        terms=found.terms,
        level=found.handling_level,
        department_id=department.pk if department else None,
        department=department.name if department else None,
        would_auto_route=found.would_auto_route,
    )


@router.get(
    "/triage/models",
    response={200: list[ModelOut], 403: FieldErrorOut},
    summary="Classifier versions with their evaluation, newest first",
)
def models_list(request: HttpRequest) -> list[ModelOut] | Status[FieldErrorOut]:
    if not (access.can(request.user, Cap.CASE_TRIAGE) or services.can_manage(request.user)):
        return Status(403, FieldErrorOut(detail="您没有分流权限"))
    return [_model_out(row) for row in TriageModel.objects.defer("blob").order_by("-version")]


def _manage(request: HttpRequest, act: Any) -> ModelOut | Status[FieldErrorOut]:
    try:
        services.require_manager(request.user)
        row = act()
    except PermissionDenied as exc:
        return Status(403, FieldErrorOut(detail=str(exc)))
    except LinliError as exc:
        return Status(400, FieldErrorOut(detail=str(exc)))
    fresh = TriageModel.objects.defer("blob").get(pk=row.pk)
    return _model_out(fresh)


@router.post(
    "/triage/models/rollback",
    response={200: ModelOut, **_ERRORS},
    summary="Re-activate the version that was active before the current one",
)
def models_rollback(request: HttpRequest) -> ModelOut | Status[FieldErrorOut]:
    return _manage(request, services.rollback)


@router.post(
    "/triage/models/{version}/activate",
    response={200: ModelOut, **_ERRORS},
    summary="Make a version the active one (new appeals are classified by it within 30 s)",
)
def models_activate(request: HttpRequest, version: int) -> ModelOut | Status[FieldErrorOut]:
    if services.can_manage(request.user) and not TriageModel.objects.filter(version=version).exists():
        return Status(404, FieldErrorOut(detail=f"没有版本 v{version}"))
    return _manage(request, lambda: services.activate(version))


@router.get(
    "/cases/{pk}/duplicates",
    response={200: list[DuplicateOut], 404: FieldErrorOut},
    summary="Possible duplicates of a case among the open cases the caller sees",
)
def case_duplicates(request: HttpRequest, pk: int) -> list[DuplicateOut] | Status[FieldErrorOut]:
    scope = access.scope_for(request.user, Cap.CASE_VIEW)
    case = selectors.case_get_for(scope, pk)
    if case is None:
        return Status(404, FieldErrorOut(detail="诉求不存在或不在您的管辖范围内"))
    return [
        DuplicateOut(
            case_id=m.case.pk,
            number=m.case.number,
            title=m.case.title,
            status=m.case.status,
            score=round(m.score, 4),
            similarity=round(m.similarity, 4),
            place=m.place,
            distance_m=round(m.distance_m, 1) if m.distance_m is not None else None,
            same_category=m.same_category,
            terms=m.terms,
        )
        for m in duplicates.possible_duplicates(case)
        if scope.covers(m.case)
    ]
