from decimal import Decimal
from typing import Annotated

import pydantic

Money = Annotated[Decimal, pydantic.Field(max_digits=12, decimal_places=2, ge=0)]
Sku = Annotated[str, pydantic.Field(min_length=1, max_length=64)]
Quantity = Annotated[int, pydantic.Field(gt=0)]


class Line(pydantic.BaseModel):
    sku: Sku
    quantity: Quantity
    unit_price: Money
