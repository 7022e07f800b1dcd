"""The orders service: customers place and follow orders; it owns orders and their saga state."""
