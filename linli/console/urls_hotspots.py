"""Console URLs: emerging issues (未诉先办) (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_hotspots

urlpatterns = [
    path("hotspots/", views_hotspots.hotspot_list, name="hotspots"),
    path("hotspots/<int:pk>/", views_hotspots.hotspot_detail, name="hotspot"),
    path("hotspots/<int:pk>/decide/<str:decision>/", views_hotspots.hotspot_decide, name="hotspot_decide"),
]
