from django.apps import AppConfig


class LocationsConfig(AppConfig):
    name = "apps.locations"
    verbose_name = "Locations"
