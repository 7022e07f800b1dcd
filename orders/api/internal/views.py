"""The orders service's internal API: its state of orders, for the reconciliation service."""

import uuid

from config.internal_api import StateView, window
from orders import selectors


class OrderStateView(StateView):
    def state(self, query: dict) -> dict:
        if "order_ids" in query:
            query = {**query, "order_ids": [i for i in query["order_ids"] if _is_uuid(i)]}
        orders = window(selectors.order_states(), query)
        return {"orders": [selectors.order_record(order).as_json() for order in orders]}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
