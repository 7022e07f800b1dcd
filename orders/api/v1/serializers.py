from rest_framework import serializers

from orders.models import CatalogProduct, Order, OrderLine, OrderStatusChange
from orders.services.placement import MAX_LINES, MAX_QUANTITY


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, min_length=8, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogProduct
        fields = ["sku", "name", "price"]


class LineInSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderInSerializer(serializers.Serializer):
    items = LineInSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    payment_token = serializers.CharField(max_length=64)


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


class StatusFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class OrderPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderOutSerializer(many=True)
