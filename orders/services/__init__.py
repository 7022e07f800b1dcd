"""Every change to orders: placement and cancellation (placement.py), the saga's steps
(saga.py), the catalog read model (catalog.py), and customers' registration (customers.py)."""
