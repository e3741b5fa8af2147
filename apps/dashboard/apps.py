from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "apps.dashboard"
    verbose_name = "Live dashboard"

    def ready(self) -> None:
        from django.contrib import admin

        # The admin's "View site" link opens the live dashboard (unless a site URL is set).
        if admin.site.site_url == "/":
            admin.site.site_url = "/dashboard/"
