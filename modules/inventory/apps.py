from contracts.catalog import Catalog
from contracts.inventory import Inventory, StockReservationFailed, StockReserved
from contracts.kernel import ModuleConfig
from contracts.orders import OrderPlaced


class InventoryConfig(ModuleConfig):
    name = "modules.inventory"
    label = "inventory"
    provides = [Inventory]
    consumes = [Catalog]  # stock is kept only for SKUs the catalog knows
    publishes = [StockReserved, StockReservationFailed]
    handles = [OrderPlaced]
