from django.urls import path

from apps.reports.api.views import VIEWS

urlpatterns = [
    path(f"reports/{name}/", view.as_view(), name=f"report-{name}") for name, view in VIEWS.items()
]
