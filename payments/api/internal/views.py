"""The payments service's internal API: its payments of orders, for the reconciliation service."""

from config.internal_api import StateView, window
from payments import selectors


class PaymentStateView(StateView):
    def state(self, query: dict) -> dict:
        payments = window(selectors.payment_states(), query)
        return {"payments": [selectors.payment_record(p).as_json() for p in payments]}
