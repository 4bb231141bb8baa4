from contracts.kernel import ModuleConfig
from contracts.orders import OrderCancelled, OrderConfirmed


class NotificationsConfig(ModuleConfig):
    """Provides no contract and consumes none: it only listens."""

    name = "modules.notifications"
    label = "notifications"
    handles = [OrderConfirmed, OrderCancelled]
