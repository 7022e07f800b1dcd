from events.envelope import Envelope
from orders.models import CatalogProduct


def catalog_apply_product(*, envelope: Envelope, sku: str, name: str, price) -> bool:
    """Apply a ProductUpdated event; an older version never overwrites a newer one. True if applied."""
    updated = CatalogProduct.objects.filter(sku=sku, version__lt=envelope.sequence).update(
        name=name, price=price, version=envelope.sequence
    )
    if updated:
        return True
    _, created = CatalogProduct.objects.get_or_create(
        sku=sku, defaults={"name": name, "price": price, "version": envelope.sequence}
    )
    return created
