"""Inventory's staff API: create, update and read products. Thin: validate, call a service."""

import re

from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import selectors, services
from inventory.api.v1.serializers import ProductInSerializer, ProductOutSerializer

SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ProductListView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request):
        return Response(ProductOutSerializer(selectors.product_list(), many=True).data)


class ProductDetailView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request, sku):
        product = selectors.product_get(sku=sku)
        if product is None:
            raise NotFound(f"no product {sku!r}")
        return Response(ProductOutSerializer(product).data)

    def put(self, request, sku):
        if not SKU.match(sku):
            raise ValidationError(
                {"sku": "letters, digits, '.', '_' or '-', at most 64, starting with a letter or digit"}
            )
        data = ProductInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            product, created = services.product_upsert(
                sku=sku, actor=request.user.get_username(), **data.validated_data
            )
        except services.InventoryError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(
            ProductOutSerializer(product).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
