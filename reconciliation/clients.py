"""The reconciliation service's client for the other services' internal APIs
(config/internal_api.py): their authoritative state, read over HTTP, never from their databases."""

from dataclasses import dataclass

import pydantic
import requests
from django.conf import settings
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from config.service_auth import service_authorization
from events.contracts.state import OrderRecord, PaymentRecord, ProductRecord, ReservationRecord

CHUNK = 500
# The records one answer of a window holds (config/internal_api.py allows up to 20,000): small
# enough that a page is a short piece of work for the service's web process (about 50 ms here).
WINDOW_PAGE = 1000
TIMEOUT_SECONDS = 10


class ServiceUnavailable(Exception):
    """A service's internal API did not answer; the sweep cannot audit without it."""


@dataclass
class ServiceState:
    orders: dict[str, OrderRecord]
    reservations: dict[str, ReservationRecord]
    payments: dict[str, PaymentRecord]
    products: list[ProductRecord]


# Each service's records of orders, by what its internal API answers them under; each kind's model.
RECORDS = {"orders": "orders", "inventory": "reservations", "payments": "payments"}
MODELS = {
    "orders": OrderRecord,
    "reservations": ReservationRecord,
    "payments": PaymentRecord,
    "products": ProductRecord,
}


def state_of_orders(order_ids: list[str], *, known: ServiceState | None = None) -> ServiceState:
    """The three services' state of these orders, and every product's stock. A record already in
    `known` (the same sweep's window, moments before) is not asked for again; the products come
    with the first request to inventory only."""
    wanted = set(order_ids)
    state = ServiceState({}, {}, {}, list(known.products) if known else [])
    for service, field in RECORDS.items():
        have = getattr(known, field) if known else {}
        records = {order_id: record for order_id, record in have.items() if order_id in wanted}
        missing = [order_id for order_id in order_ids if order_id not in records]
        with_products = service == "inventory" and not state.products
        chunks = [missing[start : start + CHUNK] for start in range(0, len(missing), CHUNK)]
        for number, chunk in enumerate(chunks or ([[]] if with_products else [])):
            answer = _call(
                "POST", service, "state", {"order_ids": chunk, "products": with_products and number == 0}
            )
            records.update({r["order_id"]: _typed(field, r) for r in answer[field]})
            if with_products and number == 0:
                state.products = _products(answer)
        setattr(state, field, records)
    return state


def state_changed_since(since, until=None, *, between_pages=None) -> ServiceState:
    """The three services' state of the orders each changed in [since, until), and every product's
    stock. A service answers a window oldest change first, at most WINDOW_PAGE records at a time:
    a full page is followed by the next, from the (change, order id) it ended at, so a busy window
    is read whole. `between_pages` is called before each page after the first."""
    state = ServiceState({}, {}, {}, [])
    for service, field in RECORDS.items():
        records: dict[str, dict] = {}
        query = {
            "since": since.isoformat(),
            "limit": WINDOW_PAGE,
            **({"until": until.isoformat()} if until else {}),
        }
        while True:
            query["products"] = service == "inventory" and not state.products
            answer = _call("POST", service, "state", query)
            page = answer[field]
            records.update((r["order_id"], _typed(field, r)) for r in page)
            if query["products"]:
                state.products = _products(answer)
            if len(page) < WINDOW_PAGE:
                break
            if between_pages:
                between_pages()
            query |= {"since": page[-1]["updated_at"], "after_order_id": page[-1]["order_id"]}
        setattr(state, field, records)
    return state


def backlog(service: str) -> dict:
    return _call("GET", service, "backlog")


def _typed(field: str, record: dict):
    """A record of the answer (under `field`) as the contract's model (events/contracts/state.py);
    one that does not hold to it is the service's fault, and no audit can be made of it."""
    try:
        return MODELS[field].model_validate(record)
    except pydantic.ValidationError as exc:
        raise ServiceUnavailable(f"{field}: a record that breaks the internal API's contract: {exc}") from exc


def _products(answer: dict) -> list[ProductRecord]:
    return [_typed("products", product) for product in answer["products"]]


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
