from django.urls import path

from apps.inventory.api import ledger_views, order_views, stock_views

urlpatterns = [
    path("availability/<path:sku>/", stock_views.AvailabilityView.as_view(), name="availability"),
    path("stock/", stock_views.StockLevelListView.as_view(), name="stock-list"),
    path("stock/receipts/", stock_views.ReceiptView.as_view(), name="stock-receipts"),
    path("stock/shipments/", stock_views.ShipmentView.as_view(), name="stock-shipments"),
    path("stock/adjustments/", stock_views.AdjustmentView.as_view(), name="stock-adjustments"),
    path("stock/counts/", stock_views.CountView.as_view(), name="stock-counts"),
    path("stock/damages/", stock_views.DamageView.as_view(), name="stock-damages"),
    path("stock/write-offs/", stock_views.WriteOffView.as_view(), name="stock-write-offs"),
    path(
        "stock/<path:sku>/<str:location>/",
        stock_views.StockLevelDetailView.as_view(),
        name="stock-detail",
    ),
    path("reservations/", order_views.ReservationListView.as_view(), name="reservation-list"),
    path(
        "reservations/<uuid:reservation_id>/",
        order_views.ReservationDetailView.as_view(),
        name="reservation-detail",
    ),
    path(
        "reservations/<uuid:reservation_id>/commit/",
        order_views.ReservationCommitView.as_view(),
        name="reservation-commit",
    ),
    path(
        "reservations/<uuid:reservation_id>/release/",
        order_views.ReservationReleaseView.as_view(),
        name="reservation-release",
    ),
    path(
        "reservations/<uuid:reservation_id>/extend/",
        order_views.ReservationExtendView.as_view(),
        name="reservation-extend",
    ),
    path(
        "reservations/<uuid:reservation_id>/return/",
        order_views.ReservationReturnView.as_view(),
        name="reservation-return",
    ),
    path(
        "reservations/<uuid:reservation_id>/returns/",
        order_views.ReservationReturnListView.as_view(),
        name="reservation-returns",
    ),
    path("transfers/", order_views.TransferListView.as_view(), name="transfer-list"),
    path(
        "transfers/<uuid:transfer_id>/",
        order_views.TransferDetailView.as_view(),
        name="transfer-detail",
    ),
    path(
        "transfers/<uuid:transfer_id>/ship/",
        order_views.TransferShipView.as_view(),
        name="transfer-ship",
    ),
    path(
        "transfers/<uuid:transfer_id>/receive/",
        order_views.TransferReceiveView.as_view(),
        name="transfer-receive",
    ),
    path(
        "transfers/<uuid:transfer_id>/cancel/",
        order_views.TransferCancelView.as_view(),
        name="transfer-cancel",
    ),
    path("ledger/", ledger_views.LedgerListView.as_view(), name="ledger-list"),
    path("ledger/export/", ledger_views.LedgerExportView.as_view(), name="ledger-export"),
]
