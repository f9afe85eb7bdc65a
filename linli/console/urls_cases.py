"""Console URLs: appeals (诉求办理) and the category settings (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_alarms, views_case_entry, views_cases, views_categories

urlpatterns = [
    path("cases/", views_cases.case_list, name="cases"),
    path("cases/new/", views_case_entry.case_new, name="case_new"),
    path("cases/new/places/", views_case_entry.case_new_places, name="case_new_places"),
    path("cases/new/residents/", views_case_entry.case_new_residents, name="case_new_residents"),
    path("cases/<int:pk>/", views_cases.case_detail, name="case"),
    path("cases/<int:pk>/act/<str:action>/", views_cases.case_act, name="case_act"),
    path("cases/<int:pk>/note/", views_cases.case_comment, name="case_comment"),
    path("cases/<int:pk>/reveal/<str:field>/", views_cases.case_reveal, name="case_reveal"),
    path("cases/<int:pk>/photos/<int:photo>/", views_cases.case_photo, name="case_photo"),
    path("cases/<int:pk>/whistle/", views_cases.case_whistle, name="case_whistle"),
    path(
        "cases/<int:pk>/whistle/<int:whistle>/<str:step>/",
        views_cases.case_whistle_step,
        name="case_whistle_step",
    ),
    path("cases/<int:pk>/extension/", views_cases.case_extension, name="case_extension"),
    path(
        "cases/<int:pk>/extension/<int:extension>/decide/",
        views_cases.case_extension_decide,
        name="case_extension_decide",
    ),
    path("cases/<int:pk>/merged/<int:source>/feedback/", views_cases.case_feedback, name="case_feedback"),
    path("cases/<int:pk>/acknowledge/", views_alarms.case_acknowledge, name="case_acknowledge"),
    path("settings/duty-phones/", views_alarms.duty_phones, name="duty_phones"),
    path("settings/categories/", views_categories.category_list, name="categories"),
    path("settings/categories/new/", views_categories.category_new, name="category_new"),
    path("settings/categories/<int:pk>/", views_categories.category_edit, name="category"),
    path(
        "settings/categories/<int:pk>/attributes/add/",
        views_categories.attribute_add,
        name="category_attribute_add",
    ),
    path(
        "settings/categories/<int:pk>/attributes/<int:aid>/",
        views_categories.attribute_edit,
        name="category_attribute",
    ),
    path(
        "settings/categories/<int:pk>/attributes/<int:aid>/delete/",
        views_categories.attribute_delete,
        name="category_attribute_delete",
    ),
]
