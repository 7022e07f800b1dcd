from rest_framework import serializers

from inventory.models import Product


class ProductInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stock_quantity = serializers.IntegerField(min_value=0, max_value=2_000_000_000)


class ProductOutSerializer(serializers.ModelSerializer):
    reserved = serializers.IntegerField(source="reserved_quantity")

    class Meta:
        model = Product
        fields = ["sku", "name", "price", "stock_quantity", "reserved"]
