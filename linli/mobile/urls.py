"""Mobile pages, mounted at ``/m/``: resident pages (no account) and grid worker pages (sign-in)."""

from django.urls import path

from linli.mobile import views_grid, views_inbox, views_resident

app_name = "mobile"
urlpatterns = [
    # Residents: report from a building's QR code, +1, follow the report, the wish box.
    path("r/<str:code>/", views_resident.report, name="report"),
    path("r/<str:code>/support/<int:pk>/", views_resident.support, name="support"),
    path("t/<str:token>/", views_resident.track, name="track"),
    path("t/<str:token>/new/", views_resident.reported, name="reported"),
    path("t/<str:token>/photo/<int:pk>/", views_resident.photo, name="track_photo"),
    path("wish/<str:code>/", views_resident.wish, name="wish"),
    # Grid workers.
    path("grid/", views_grid.home, name="grid_home"),
    path("grid/report/", views_grid.report_pick, name="grid_report_pick"),
    path("grid/report/<int:grid>/", views_grid.report, name="grid_report"),
    path("grid/cases/", views_grid.cases, name="grid_cases"),
    path("grid/cases/<int:pk>/", views_grid.case_detail, name="grid_case"),
    path("grid/cases/<int:pk>/act/", views_grid.case_act, name="grid_case_act"),
    path("grid/cases/<int:pk>/photo/<int:photo>/", views_grid.case_photo, name="grid_case_photo"),
    path("inbox/", views_inbox.inbox_list, name="inbox"),  # the message centre on the phone
    path("inbox/read-all/", views_inbox.inbox_read_all, name="inbox_read_all"),
    path("inbox/<int:pk>/open/", views_inbox.inbox_open, name="inbox_open"),
    path("patrol/", views_grid.patrol_home, name="patrols"),
    path("patrol/start/", views_grid.patrol_start, name="patrol_start"),
    path("patrol/<int:pk>/", views_grid.patrol, name="patrol"),
]
