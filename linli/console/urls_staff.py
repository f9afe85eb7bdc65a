"""Console URLs: staff accounts of one's area (账号管理; included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_staff

urlpatterns: list = [
    path("settings/staff/", views_staff.staff_list, name="staff"),
    path("settings/staff/new/", views_staff.staff_new, name="staff_new"),
    path("settings/staff/<int:pk>/deactivate/", views_staff.staff_deactivate, name="staff_deactivate"),
    path("settings/staff/<int:pk>/reactivate/", views_staff.staff_reactivate, name="staff_reactivate"),
]
