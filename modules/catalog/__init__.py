"""Catalog: products (SKU, name, price in cents)."""
