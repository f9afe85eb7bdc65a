from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from linli.core.views import favicon, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("accounts/", include("linli.accounts.urls")),
    path("api/", include("linli.api.urls")),
    path("open311/v2/", include("linli.open311.urls")),
    path("m/", include("linli.mobile.urls")),
    path("admin/", admin.site.urls),
    path("", include("linli.console.urls")),
]

# A mistyped address under the residents' routes gets their phone page, not the console's 404 (issue #12).
handler404 = "linli.mobile.views_errors.not_found"
