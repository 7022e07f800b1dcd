from django.db import connection

from events.contracts.state import OrderRecord
from orders import sql
from orders.models import CatalogProduct, Order


def catalog_list():
    return CatalogProduct.objects.only("sku", "name", "price")


def catalog_prices(skus: set[str]) -> dict:
    """The catalog's price of each of `skus` it knows (placement's hot path: no ORM query to build)."""
    with connection.cursor() as cursor:
        sql.CATALOG_PRICES.execute(cursor, [list(skus)])
        return dict(cursor.fetchall())


def orders_saga_now(window_seconds: float, horizon_seconds: float) -> tuple[int, int, float]:
    """The saga's queue and latency now, within `horizon_seconds` (orders/sql.py ORDERS_SAGA_NOW):
    (orders placed within it and pending, orders that finished in the last `window_seconds`, the
    median completion time of those that took less than the horizon, else the oldest pending's age)."""
    with connection.cursor() as cursor:
        sql.ORDERS_SAGA_NOW.execute(cursor, [horizon_seconds, horizon_seconds, window_seconds])
        pending, finished, completion = cursor.fetchone()
    return pending, finished, float(completion)


def order_list_for_customer(*, customer, status: str | None = None):
    orders = Order.objects.filter(customer=customer).prefetch_related("lines", "history")
    return orders.filter(status=status) if status else orders


def order_get_for_customer(*, customer, order_id) -> Order | None:
    return (
        Order.objects.filter(customer=customer, order_id=order_id)
        .prefetch_related("lines", "history")
        .first()
    )


def order_get_by_idempotency_key(*, customer, idempotency_key: str) -> Order:
    return (
        Order.objects.filter(customer=customer, idempotency_key=idempotency_key)
        .prefetch_related("lines", "history")
        .get()
    )


def order_states():
    """Orders as the reconciliation service audits them (internal API): rows, not model instances
    (the sweep reads thousands a minute)."""
    return Order.objects.values(
        "order_id",
        "customer_id",
        "status",
        "failure_reason",
        "total_amount",
        "currency",
        "version",
        "created_at",
        "updated_at",
    )


def order_record(row: dict) -> OrderRecord:
    """A row of order_states() as the internal API's contract (events/contracts/state.py)."""
    return OrderRecord(
        order_id=str(row["order_id"]),
        customer=str(row["customer_id"]),
        status=row["status"],
        failure_reason=row["failure_reason"],
        total_amount=row["total_amount"],
        currency=row["currency"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
