from django.urls import include, path

from linli.console import views, views_calendar, views_ledger, views_ledger_columns, views_org

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("places/", views.places, name="places"),
    path("places/region/<int:pk>/", views.place_region, name="place_region"),
    path("places/grid/<int:pk>/", views.place_grid, name="place_grid"),
    path("places/building/<int:pk>/", views.place_building, name="place_building"),
    path("residents/", views.resident_list, name="residents"),
    path("residents/<int:pk>/", views.resident_detail, name="resident"),
    path("residents/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:pk>/move-out/", views.resident_move_out, name="resident_move_out"),
    path("residents/<int:pk>/reveal/<str:field>/", views.resident_reveal, name="resident_reveal"),
    path("households/", views.household_list, name="households"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:pk>/verify/", views.household_verify, name="household_verify"),
    path("households/<int:pk>/residents/add/", views.household_add_resident, name="household_add_resident"),
    path("imports/", views_ledger.import_page, name="import"),
    path("imports/template.xlsx", views_ledger.import_template, name="import_template"),
    path("imports/<int:pk>/", views_ledger.import_job, name="import_job"),
    path("imports/<int:pk>/columns/", views_ledger.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/preview/", views_ledger.import_preview, name="import_preview"),
    path(
        "imports/<int:pk>/preview/status/", views_ledger.import_preview_status, name="import_preview_status"
    ),
    path("imports/<int:pk>/confirm/", views_ledger.import_confirm, name="import_confirm"),
    path("imports/<int:pk>/discard/", views_ledger.import_discard, name="import_discard"),
    path("imports/<int:pk>/status/", views_ledger.import_job_status, name="import_job_status"),
    path("imports/<int:pk>/report.xlsx", views_ledger.import_job_report, name="import_job_report"),
    path("exports/", views_ledger.export_page, name="export"),
    path("settings/key-groups/", views_ledger.key_groups, name="key_groups"),
    path("settings/key-groups/<int:pk>/", views_ledger.key_group_action, name="key_group_action"),
    path("settings/ledger-columns/", views_ledger_columns.column_aliases, name="ledger_columns"),
    path(
        "settings/ledger-columns/<int:pk>/delete/",
        views_ledger_columns.column_alias_delete,
        name="ledger_column_delete",
    ),
    path("settings/calendar/", views_calendar.calendar_page, name="calendar"),
    path("org/posts/", views_org.posts, name="org_posts"),
    path("org/posts/assign/", views_org.post_assign, name="org_post_assign"),
    path("org/posts/places/", views_org.post_places, name="org_post_places"),
    path("org/posts/people/", views_org.post_people, name="org_post_people"),
    path("org/posts/<int:pk>/end/", views_org.post_end, name="org_post_end"),
    path("org/party/", views_org.party, name="org_party"),
    path("org/party/<int:pk>/", views_org.party_org, name="org_party_org"),
    path("org/party/<int:pk>/children/", views_org.party_org_child, name="org_party_child"),
    path("org/party/<int:pk>/tree/", views_org.party_children, name="org_party_children"),
    path("org/party/<int:pk>/members/", views_org.party_member_add, name="org_party_member_add"),
    path("org/departments/", views_org.departments, name="org_departments"),
    # Appeals (诉求), metrics (三率), QR sheets and API keys: each area keeps its own URL module.
    path("", include("linli.console.urls_cases")),
    path("", include("linli.console.urls_metrics")),
    path("", include("linli.console.urls_qr")),
    path("", include("linli.console.urls_apikeys")),
    path("", include("linli.console.urls_top_issues")),
    path("", include("linli.console.urls_hotspots")),
    path("", include("linli.console.urls_inbox")),  # the message centre (消息中心)
    path("", include("linli.console.urls_logins")),  # administrators' resets of staff logins
    path("", include("linli.console.urls_staff")),  # staff accounts of one's area (账号管理)
]
