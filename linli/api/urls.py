from django.urls import path

from linli.api.router import api

urlpatterns = [path("v1/", api.urls)]
