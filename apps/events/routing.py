from django.urls import path

from apps.events.consumers import StockConsumer

websocket_urlpatterns = [
    path("ws/stock/", StockConsumer.as_asgi()),
]
