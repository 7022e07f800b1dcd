"""What a benchmark run needs in the stack before the load starts: customers with API tokens, and
products of its own in inventory (so its stock figures are the run's alone), once orders' catalog
has them."""

import json
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from bench import stack

CUSTOMERS = 1000
PRODUCTS = 20
PRODUCT_STOCK = 1_000_000
# Limited editions: the orders for them sell them out early, and then fail for want of stock.
LIMITED = 4
LIMITED_STOCK = 40


@dataclass
class Fixtures:
    run_id: str
    customers: list[str]
    products: list[str]
    limited: list[str]
    stock: dict[str, int]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))


def fixtures_create(run_id: str) -> Fixtures:
    customers = customers_ensure(CUSTOMERS)
    session = stack.staff_session("inventory")
    stock = {}
    for number in range(PRODUCTS + LIMITED):
        limited = number >= PRODUCTS
        sku = f"BENCH-{run_id}-{'L' if limited else 'P'}{number:02d}"
        price = Decimal("4.50") + number % 7 * Decimal("3.25")
        stock[sku] = LIMITED_STOCK if limited else PRODUCT_STOCK
        response = session.put(
            f"{stack.url('inventory')}/api/v1/products/{sku}",
            json={"name": f"Benchmark product {sku}", "price": str(price), "stock_quantity": stock[sku]},
            timeout=10,
        )
        response.raise_for_status()
    _wait_for_catalog(set(stock))
    skus = list(stock)
    return Fixtures(run_id, customers, skus[:PRODUCTS], skus[PRODUCTS:], stock)


def customers_ensure(count: int) -> list[str]:
    """`count` customer accounts with API tokens, made once and kept for later runs.

    Written straight into the orders database (Django's user and DRF's token tables): a thousand
    sign-ups through the API would cost a thousand deliberate password hashes, minutes that
    measure nothing about orders. The accounts have no usable password; their token is their key.
    """
    with stack.database("orders") as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                                   is_staff, is_active, date_joined)
            SELECT '!benchmark', false, 'bench-customer-' || lpad(n::text, 5, '0'), '', '', '',
                   false, true, now()
            FROM generate_series(1, %s) AS n
            ON CONFLICT (username) DO NOTHING
            """,
            [count],
        )
        cursor.execute(
            """
            INSERT INTO authtoken_token (key, user_id, created)
            SELECT substr(md5(random()::text) || md5(random()::text), 1, 40), id, now()
            FROM auth_user WHERE username LIKE 'bench-customer-%%'
            ON CONFLICT (user_id) DO NOTHING
            """
        )
        cursor.execute(
            """
            SELECT t.key FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id
            WHERE u.username LIKE 'bench-customer-%%' ORDER BY u.username LIMIT %s
            """,
            [count],
        )
        return [key for (key,) in cursor.fetchall()]


def _wait_for_catalog(skus: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = stack.query(
            "orders", "SELECT count(*) FROM orders_catalogproduct WHERE sku = ANY(%s)", [list(skus)]
        )
        if rows[0][0] == len(skus):
            return
        time.sleep(0.2)
    raise TimeoutError(
        f"the orders catalog did not receive the benchmark's {len(skus)} products in {timeout} s"
    )
