"""The reconciliation service: it detects and repairs divergence between the other services."""
