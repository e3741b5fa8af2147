from django.urls import path

from apps.inventory.api import (
    ledger_views,
    order_views,
    record_views,
    stock_views,
    transfer_views,
)

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
    path("transfers/", transfer_views.TransferListView.as_view(), name="transfer-list"),
    path(
        "transfers/<uuid:transfer_id>/",
        transfer_views.TransferDetailView.as_view(),
        name="transfer-detail",
    ),
    path(
        "transfers/<uuid:transfer_id>/ship/",
        transfer_views.TransferShipView.as_view(),
        name="transfer-ship",
    ),
    path(
        "transfers/<uuid:transfer_id>/receive/",
        transfer_views.TransferReceiveView.as_view(),
        name="transfer-receive",
    ),
    path(
        "transfers/<uuid:transfer_id>/cancel/",
        transfer_views.TransferCancelView.as_view(),
        name="transfer-cancel",
    ),
    path("ledger/", ledger_views.LedgerListView.as_view(), name="ledger-list"),
    path("ledger/export/", ledger_views.LedgerExportView.as_view(), name="ledger-export"),
    # The specification's calls (inventory records); before warehouses/<id>/ in the API's urls.
    path("inventory/", record_views.InventoryCreateView.as_view(), name="inventory-create"),
    path("inventory/check/", record_views.InventoryCheckView.as_view(), name="inventory-check"),
    path("inventory/adjust/", record_views.InventoryAdjustView.as_view(), name="inventory-adjust"),
    path(
        "inventory/bulk-update/",
        record_views.BulkUpdateView.as_view(),
        name="inventory-bulk-update",
    ),
    path("inventory/low-stock/", record_views.LowStockView.as_view(), name="inventory-low-stock"),
    path(
        "inventory/overall/<path:product_id>/",
        record_views.ProductStockView.as_view(),
        name="inventory-overall",
    ),
    path(
        "inventory/warehouses/<str:warehouse_id>/stock/",
        record_views.WarehouseStockView.as_view(),
        name="inventory-warehouse-stock",
    ),
    path(
        "inventory/<int:inventory_id>/",
        record_views.InventoryDetailView.as_view(),
        name="inventory-detail",
    ),
    path(
        "warehouses/transfer/",
        record_views.WarehouseTransferView.as_view(),
        name="warehouses-transfer",
    ),
]
