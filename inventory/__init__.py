"""The inventory service: it owns products and stock, and reserves stock for orders."""
