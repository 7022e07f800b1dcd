from orders.models import CatalogProduct, Order


def catalog_list():
    return CatalogProduct.objects.only("sku", "name", "price")


def order_list_for_customer(*, customer, status: str | None = None):
    orders = Order.objects.filter(customer=customer).prefetch_related("lines", "history")
    return orders.filter(status=status) if status else orders


def order_get_for_customer(*, customer, order_id) -> Order | None:
    return (
        Order.objects.filter(customer=customer, order_id=order_id)
        .prefetch_related("lines", "history")
        .first()
    )
