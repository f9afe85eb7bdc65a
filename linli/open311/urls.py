"""Open311 GeoReport v2 URLs, mounted at ``/open311/v2/``. Each resource ends in ``.xml`` or ``.json``; any other
path under the prefix gets the spec's 404 error list (JSON for a ``.json`` path, XML otherwise)."""

from django.urls import re_path

from linli.open311 import views

app_name = "open311"
FMT = r"\.(?P<fmt>xml|json)"

urlpatterns = [
    re_path(rf"^discovery{FMT}$", views.discovery, name="discovery"),
    re_path(rf"^services{FMT}$", views.service_list, name="services"),
    re_path(rf"^services/(?P<service_code>[^/]+?){FMT}$", views.service_definition, name="service"),
    re_path(rf"^requests{FMT}$", views.requests, name="requests"),
    re_path(rf"^requests/(?P<service_request_id>[^/]+?){FMT}$", views.request_detail, name="request"),
    re_path(rf"^tokens/(?P<token>[^/]+?){FMT}$", views.token, name="token"),
    re_path(rf"^servicerequestupdates{FMT}$", views.updates, name="updates"),
    re_path(r"^(?P<rest>.*)\.(?P<fmt>json)$", views.not_found),
    re_path(r"^(?P<rest>.*)$", views.not_found, kwargs={"fmt": "xml"}),
]
