"""Inventory: stock on hand per SKU, and the reservations that hold it for orders."""
