"""The reconciliation service's client for the other services' internal APIs
(config/internal_api.py): their authoritative state, read over HTTP, never from their databases."""

from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from config.service_auth import service_authorization

CHUNK = 500
TIMEOUT_SECONDS = 10


class ServiceUnavailable(Exception):
    """A service's internal API did not answer; the sweep cannot audit without it."""


@dataclass
class ServiceState:
    orders: dict[str, dict]
    reservations: dict[str, dict]
    payments: dict[str, dict]
    products: list[dict]


def state_of_orders(order_ids: list[str]) -> ServiceState:
    """The three services' state of these orders, and every product's stock."""
    state = ServiceState({}, {}, {}, [])
    for start in range(0, len(order_ids), CHUNK):
        _merge(state, {"order_ids": order_ids[start : start + CHUNK]})
    if not order_ids:
        _merge(state, {"order_ids": []})
    return state


def state_changed_since(since, until=None) -> ServiceState:
    """The three services' state of the orders each changed in [since, until)."""
    state = ServiceState({}, {}, {}, [])
    query = {"since": since.isoformat(), **({"until": until.isoformat()} if until else {})}
    _merge(state, {**query, "limit": 20000})
    return state


def backlog(service: str) -> dict:
    return _call("GET", service, "backlog")


def _merge(state: ServiceState, query: dict) -> None:
    orders = _call("POST", "orders", "state", query)
    inventory = _call("POST", "inventory", "state", query)
    payments = _call("POST", "payments", "state", query)
    state.orders.update({r["order_id"]: _typed(r) for r in orders["orders"]})
    state.reservations.update({r["order_id"]: _typed(r) for r in inventory["reservations"]})
    state.payments.update({r["order_id"]: _typed(r) for r in payments["payments"]})
    state.products = inventory["products"]


def _typed(record: dict) -> dict:
    """Times back to datetimes; decimals stay strings (the rules compare them as Decimal)."""
    return {k: parse_datetime(v) if k.endswith("_at") and v else v for k, v in record.items()}


@retry(
    retry=retry_if_exception_type(requests.ConnectionError),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.2, max=2),
    reraise=True,
)
def _request(method: str, url: str, body: dict | None):
    return requests.request(
        method,
        url,
        json=body,
        headers={"Authorization": service_authorization(settings.SERVICE_NAME)},
        timeout=TIMEOUT_SECONDS,
    )


def _call(method: str, service: str, endpoint: str, body: dict | None = None) -> dict:
    url = f"{settings.RECONCILIATION_SERVICE_URLS[service]}/internal/v1/{endpoint}"
    try:
        response = _request(method, url, body)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"{service}: {exc}") from exc
    if response.status_code != 200:
        raise ServiceUnavailable(f"{service} answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError as exc:
        raise ServiceUnavailable(f"{service} answered something that is not JSON: {exc}") from exc
