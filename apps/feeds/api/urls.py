from django.urls import path

from apps.feeds.api import views

urlpatterns = [
    path("bulk/stock/", views.BulkStockView.as_view(), name="bulk-stock"),
    path("events/", views.EventFeedView.as_view(), name="events"),
    path("events/queued/<str:batch_id>/", views.QueuedBatchView.as_view(), name="events-queued"),
]
