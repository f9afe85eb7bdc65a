"""The REST API (django-ninja). OpenAPI 3 schema at /api/v1/openapi.json, docs at /api/v1/docs.

Authentication: the staff session (cookie + CSRF token) for now; API keys for client applications arrive with the
Open311 adapter. Every endpoint scopes its data through ``linli.org.access``.
"""

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.security import django_auth

from linli.api.org import router as org_router
from linli.api.registry import router as registry_router
from linli.api.schemas import ErrorOut, ValidationErrorOut
from linli.core.errors import PermissionDenied

_REF = "#/components/schemas/{model}"


def _ref(model: type[Any]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class LinliAPI(NinjaAPI):
    """django-ninja with a schema that lists every answer an operation can give (ADR 0023), not only the ones its
    handler returns: 400 for input refused at the edge (``linli.core.boundary``: NULs, numbers beyond 64 bits),
    401 without a session, 404 for a path parameter that names nothing, and 422 — a list of field errors — for a
    body, query or path parameter the request schema refuses (together with a handler's own 422, when it has one)."""

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        schema = super().get_openapi_schema(**kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ErrorOut, ValidationErrorOut):
            defs = model.model_json_schema(ref_template=_REF)
            components.update(defs.pop("$defs", {}))
            components.setdefault(model.__name__, defs)
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    _complete(operation)
        return schema


def _complete(operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    params = operation.get("parameters", [])
    responses.setdefault(
        400, _json(_ref(ErrorOut), "Input refused at the edge (a NUL, a number beyond 64 bits)")
    )
    if operation.get("security"):
        responses.setdefault(401, _json(_ref(ErrorOut), "Not signed in"))
    if any(p.get("in") == "path" for p in params):
        responses.setdefault(404, _json(_ref(ErrorOut), "Not found"))
    if params or "requestBody" in operation:
        invalid = _ref(ValidationErrorOut)
        if 422 in responses:
            content = responses[422].setdefault("content", {}).setdefault("application/json", {})
            content["schema"] = {"anyOf": [content.get("schema", {}), invalid]}
        else:
            responses[422] = _json(invalid, "Input the request schema refuses: one error per field")


api = LinliAPI(
    title="Linli API",
    version="1",
    description="邻里 — community grid governance. All personal values are masked; reveals are logged.",
    urls_namespace="api",
    auth=django_auth,
)
api.add_router("/", registry_router)
api.add_router("/", org_router)
api.add_router("/", "linli.api.cases.router", tags=["cases"])
api.add_router("/", "linli.api.metrics.router", tags=["metrics"])
api.add_router("/", "linli.api.top_issues.router", tags=["top-issues"])
api.add_router("/", "linli.api.triage.router", tags=["triage"])
api.add_router("/", "linli.api.hotspots.router", tags=["hotspots"])
api.add_router("/", "linli.api.inbox.router", tags=["inbox"])  # the message centre (消息中心)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": str(exc)}, status=403)
