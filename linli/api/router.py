"""The REST API (django-ninja). OpenAPI 3 schema at /api/v1/openapi.json, docs at /api/v1/docs.

Authentication: the staff session (cookie + CSRF token) for now; API keys for client applications arrive with the
Open311 adapter. Every endpoint scopes its data through ``linli.org.access``.
"""

from ninja import NinjaAPI
from ninja.security import django_auth

from linli.api.org import router as org_router
from linli.api.registry import router as registry_router
from linli.core.errors import PermissionDenied

api = NinjaAPI(
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


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": str(exc)}, status=403)
