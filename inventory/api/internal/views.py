"""The inventory service's internal API: its reservations of orders and the state of its stock,
for the reconciliation service."""

from config.internal_api import StateView, window
from inventory import selectors


class InventoryStateView(StateView):
    def state(self, query: dict) -> dict:
        reservations = window(selectors.reservation_states(), query)
        state = {"reservations": [selectors.reservation_record(r).as_json() for r in reservations]}
        if query["products"]:
            state["products"] = [product.as_json() for product in selectors.stock_states()]
        return state
