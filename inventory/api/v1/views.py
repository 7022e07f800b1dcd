"""Inventory's staff API: create, update and read products. Thin: validate, call a service."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.permissions import StaffModelPermissions
from inventory import selectors, services
from inventory.api.v1.serializers import ProductInSerializer, ProductOutSerializer
from inventory.models import Product

SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SKU_PARAMETER = OpenApiParameter(
    "sku",
    str,
    OpenApiParameter.PATH,
    pattern=SKU.pattern,
    description="letters, digits, '.', '_' or '-', at most 64, starting with a letter or digit",
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description)


class ProductListView(APIView):
    permission_classes = [StaffModelPermissions]
    queryset = Product.objects.none()  # the model whose permissions it asks

    @extend_schema(operation_id="list_products", responses=ProductOutSerializer(many=True))
    def get(self, request):
        return Response(ProductOutSerializer(selectors.product_list(), many=True).data)


class ProductDetailView(APIView):
    permission_classes = [StaffModelPermissions]
    queryset = Product.objects.none()  # the model whose permissions it asks

    @extend_schema(
        operation_id="get_product",
        parameters=[SKU_PARAMETER],
        responses={200: ProductOutSerializer, 404: error("no such product")},
    )
    def get(self, request, sku):
        product = selectors.product_get(sku=sku)
        if product is None:
            raise NotFound(f"no product {sku!r}")
        return Response(ProductOutSerializer(product).data)

    @extend_schema(
        operation_id="put_product",
        parameters=[SKU_PARAMETER],
        request=ProductInSerializer,
        responses={
            200: ProductOutSerializer,
            201: ProductOutSerializer,
            400: error("field by field: what to change"),
            409: error("stock_quantity below the units held for orders"),
        },
    )
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
            return Response({"detail": str(exc), "code": exc.code}, status=status.HTTP_409_CONFLICT)
        return Response(
            ProductOutSerializer(product).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
