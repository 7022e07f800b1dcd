"""Every change to orders: placement and cancellation (placement.py), the saga's steps
(saga.py) and the catalog read model (catalog.py)."""
