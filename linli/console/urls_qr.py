"""Console URLs: QR sheets (民情二维码) of a grid and of one building (included from ``linli.console.urls``)."""

from django.urls import path

from linli.console import views_qr

urlpatterns = [
    path("places/grid/<int:pk>/qr.png", views_qr.grid_qr_png, name="grid_qr_png"),
    path("places/grid/<int:pk>/qr.pdf", views_qr.grid_qr_pdf, name="grid_qr_pdf"),
    path("places/building/<int:pk>/qr.png", views_qr.building_qr_png, name="building_qr_png"),
]
