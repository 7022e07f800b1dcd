from decimal import Decimal
from typing import Annotated

import pydantic
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from orders.models import CatalogProduct, Order, OrderLine, OrderStatusChange
from orders.services.placement import MAX_LINES, MAX_QUANTITY


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, min_length=8, style={"input_type": "password"})


class RegistrationSerializer(CredentialsSerializer):
    """A new customer's credentials: the password must pass Django's validators
    (AUTH_PASSWORD_VALIDATORS), each failure a message of its own."""

    def validate(self, data):
        candidate = get_user_model()(username=data["username"])  # for the similarity check, unsaved
        try:
            password_validation.validate_password(data["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return data


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogProduct
        fields = ["sku", "name", "price"]


# A placement's body is validated by pydantic, not a DRF serializer: on this, the hottest path,
# it takes microseconds where a serializer (its fields deep-copied and bound on every request)
# took a tenth of a millisecond. drf-spectacular documents it from its JSON schema all the same.


class LineIn(pydantic.BaseModel):
    """One line of an order: a product of the catalog and how many of it."""

    sku: Annotated[str, pydantic.Field(strict=True, min_length=1, max_length=64)]
    quantity: Annotated[int, pydantic.Field(strict=True, ge=1, le=MAX_QUANTITY)]


class OrderIn(pydantic.BaseModel):
    """An order to place: its lines, and the card token to charge once its stock is held."""

    items: Annotated[list[LineIn], pydantic.Field(min_length=1, max_length=MAX_LINES)]
    payment_token: Annotated[str, pydantic.Field(strict=True, min_length=1, max_length=64)]


def field_errors(exc: pydantic.ValidationError) -> dict[str, list[str]]:
    """pydantic's errors in the shape the APIs answer 400 with: field -> what is wrong with it."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        field, *rest = error["loc"] or ("non_field_errors",)
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest)
        errors.setdefault(str(field), []).append(
            f"{where.lstrip('.')}: {error['msg']}" if where else error["msg"]
        )
    return errors


class LineOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "quantity", "unit_price"]


class HistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderStatusChange
        fields = ["status", "reason", "at"]


class OrderOutSerializer(serializers.ModelSerializer):
    items = LineOutSerializer(source="lines", many=True)
    history = HistorySerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "order_id",
            "status",
            "failure_reason",
            "total_amount",
            "currency",
            "items",
            "history",
            "created_at",
            "updated_at",
        ]


CENTS = Decimal("0.01")


def placed_order_data(order, lines, history) -> dict:
    """What OrderOutSerializer makes of an order, built directly: the placement path answers
    every order with it, and a serializer (fields built and bound per call) cost as much as
    writing the order. test_api checks the two give the same."""
    return {
        "order_id": str(order.order_id),
        "status": order.status,
        "failure_reason": order.failure_reason,
        "total_amount": str(order.total_amount.quantize(CENTS)),
        "currency": order.currency,
        "items": [
            {"sku": line.sku, "quantity": line.quantity, "unit_price": str(line.unit_price.quantize(CENTS))}
            for line in lines
        ],
        "history": [
            {"status": change.status, "reason": change.reason, "at": _datetime(change.at)}
            for change in history
        ],
        "created_at": _datetime(order.created_at),
        "updated_at": _datetime(order.updated_at),
    }


def _datetime(value) -> str:
    """As DRF's DateTimeField writes it: ISO 8601, UTC as Z."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StatusFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class OrderPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderOutSerializer(many=True)
