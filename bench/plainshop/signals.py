"""The shop's steps announced as plain Django signals (sent inside the transaction; the receivers
defer their work with ``transaction.on_commit``)."""

from django.dispatch import Signal

order_placed = Signal()  # order_id, customer_email, lines: list[(sku, quantity)]
stock_reserved = Signal()  # order_id
stock_reservation_failed = Signal()  # order_id, reason
order_confirmed = Signal()  # order_id, customer_email, total_cents
order_cancelled = Signal()  # order_id, customer_email, reason
