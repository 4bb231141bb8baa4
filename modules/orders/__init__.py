"""Orders: a customer's order, priced by the catalog, confirmed or cancelled by the inventory."""
