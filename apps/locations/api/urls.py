from django.urls import path

from apps.locations.api import views

urlpatterns = [
    path("locations/", views.LocationListView.as_view(), name="location-list"),
    path("locations/<str:code>/", views.LocationDetailView.as_view(), name="location-detail"),
]
