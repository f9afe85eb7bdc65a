"""Console URLs: the message centre (消息中心) (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_inbox

urlpatterns = [
    path("inbox/", views_inbox.inbox_list, name="inbox"),
    path("inbox/read-all/", views_inbox.inbox_read_all, name="inbox_read_all"),
    path("inbox/<int:pk>/open/", views_inbox.inbox_open, name="inbox_open"),
    path("inbox/<int:pk>/read/", views_inbox.inbox_read, name="inbox_read"),
]
