"""Console URLs: 每月一题, the month's top issues (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_top_issues

urlpatterns = [
    path("top-issues/", views_top_issues.top_issues_page, name="top_issues"),
    path("top-issues/export.xlsx", views_top_issues.top_issues_export, name="top_issues_export"),
]
