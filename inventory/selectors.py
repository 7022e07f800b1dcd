from inventory.models import Product


def product_get(*, sku: str) -> Product | None:
    return Product.objects.filter(sku=sku).first()


def product_list():
    return Product.objects.all()
