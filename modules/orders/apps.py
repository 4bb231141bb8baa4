from contracts.catalog import Catalog
from contracts.inventory import StockReservationFailed, StockReserved
from contracts.kernel import ModuleConfig
from contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced, Orders


class OrdersConfig(ModuleConfig):
    name = "modules.orders"
    label = "orders"
    provides = [Orders]
    consumes = [Catalog]  # prices are the catalog's, read when the order is placed
    publishes = [OrderPlaced, OrderConfirmed, OrderCancelled]
    handles = [StockReserved, StockReservationFailed]
