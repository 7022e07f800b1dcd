"""The customer API of the orders service. Thin: validate, call a service or selector, render."""

import pydantic
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.throttling import ScopedRateThrottle
from orders import selectors, state
from orders.api.v1 import serializers
from orders.models import Order
from orders.services import customers, placement

IDEMPOTENCY_KEY_MAX = 255


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema(
        operation_id="register",
        request=serializers.RegistrationSerializer,
        responses={
            201: serializers.TokenSerializer,
            400: error(
                "invalid or taken username; a password too short, too common, all digits or like the username"
            ),
            429: error("too many registrations from this address: retry after Retry-After seconds"),
        },
    )
    def post(self, request):
        data = serializers.RegistrationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token = customers.customer_register(**data.validated_data)
        except customers.UsernameTaken:
            raise ValidationError({"username": ["this username is taken"]}) from None
        return Response({"token": token.key}, status=status.HTTP_201_CREATED)


# What DRF's AuthTokenSerializer answers to a wrong username or password.
WRONG_CREDENTIALS = _("Unable to log in with provided credentials.")


@extend_schema_view(
    post=extend_schema(
        operation_id="obtain_token",
        request=serializers.CredentialsSerializer,
        responses={
            200: serializers.TokenSerializer,
            400: error("wrong username or password, or a staff account (its token is issued by an operator)"),
            429: error(
                "too many sign-ins from this address, or too many failed ones of this username from it"
                " (locked out whatever the password): retry after Retry-After seconds"
            ),
        },
    )
)
class TokenView(ObtainAuthToken):
    """POST username and password, get the account's token: customers only. Open to anyone, like
    register: it reads no credentials but those in its body, and takes JSON like every other view."""

    authentication_classes = []
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        credentials = self.get_serializer(data=request.data)
        if not credentials.is_valid():
            if getattr(request, "axes_locked_out", False):
                # django-axes refused the username from this address, whatever the password
                raise Throttled(
                    wait=settings.AXES_COOLOFF_TIME.total_seconds(),
                    detail="Sign-ins of this username from here are locked out after too many failures.",
                )
            raise ValidationError(credentials.errors)
        user = credentials.validated_data["user"]
        if user.is_staff or user.is_superuser:
            # A staff account's token is issued by an operator (manage.py drf_create_token). The
            # answer is a wrong password's, word for word: any other would tell whoever is guessing
            # that this staff password was the right one.
            raise ValidationError({"non_field_errors": [WRONG_CREDENTIALS]}, code="authorization")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class ProductListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="list_products", responses=serializers.ProductSerializer(many=True))
    def get(self, request):
        return Response(serializers.ProductSerializer(selectors.catalog_list(), many=True).data)


class OrderPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class OrderListView(APIView):
    @extend_schema(
        operation_id="list_orders",
        parameters=[
            serializers.StatusFilterSerializer,
            OpenApiParameter("page", int, description="page number, from 1"),
            OpenApiParameter("page_size", int, description="orders per page (at most 100)"),
        ],
        responses={
            200: serializers.OrderPageSerializer,
            400: error("unknown status"),
            404: error("no such page"),
        },
    )
    def get(self, request):
        query = serializers.StatusFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        orders = selectors.order_list_for_customer(
            customer=request.user, status=query.validated_data.get("status")
        )
        paginator = OrderPagination()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(serializers.OrderOutSerializer(page, many=True).data)

    @extend_schema(
        operation_id="place_order",
        request=serializers.OrderIn,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
                OpenApiParameter.HEADER,
                description="the same key and body return the same order (a request sent while the "
                "first is being written waits for it); another body: 422",
            )
        ],
        responses={
            202: serializers.OrderOutSerializer,
            400: error("field by field: what to change"),
            413: error("request body too large"),
            422: error("this Idempotency-Key was used with a different request"),
            503: error("too many orders to take now (admission control); nothing was written: retry later"),
        },
    )
    def post(self, request):
        try:
            data = serializers.OrderIn.model_validate(request.data)
        except pydantic.ValidationError as exc:
            raise ValidationError(serializers.field_errors(exc)) from None
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 0 < len(key) <= IDEMPOTENCY_KEY_MAX:
            raise ValidationError({"Idempotency-Key": [f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters"]})
        try:
            placed = placement.order_place(
                customer=request.user,
                lines=[placement.LineIn(item.sku, item.quantity) for item in data.items],
                payment_token=data.payment_token,
                idempotency_key=key,
                fingerprint=placement.request_fingerprint(request.data) if key else "",
            )
        except placement.PlacementError as exc:
            raise ValidationError(exc.errors) from exc
        except placement.IdempotencyKeyReused:
            return Response(
                {"detail": "this Idempotency-Key was already used with a different request; use a new key"},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        return Response(
            serializers.placed_order_data(placed.order, placed.lines, placed.history),
            status=status.HTTP_202_ACCEPTED,
        )


class OrderDetailView(APIView):
    @extend_schema(
        operation_id="get_order", responses={200: serializers.OrderOutSerializer, 404: error("no such order")}
    )
    def get(self, request, order_id):
        order = selectors.order_get_for_customer(customer=request.user, order_id=order_id)
        if order is None:
            raise NotFound("no such order")
        return Response(serializers.OrderOutSerializer(order).data)


class OrderCancelView(APIView):
    @extend_schema(
        operation_id="cancel_order",
        request=None,
        responses={
            202: serializers.OrderOutSerializer,
            404: error("no such order"),
            409: error("the order is already completed, failed or cancelled"),
        },
    )
    def post(self, request, order_id):
        # One read of the order, locked, in the cancel itself (another customer's is not found
        # there either); one read back, for the answer.
        try:
            placement.order_cancel(order_id=order_id, customer=request.user)
        except Order.DoesNotExist:
            raise NotFound("no such order") from None
        except state.IllegalTransition as exc:
            return Response(
                {"detail": f"the order is already {exc.order.status}"}, status=status.HTTP_409_CONFLICT
            )
        order = selectors.order_get_for_customer(customer=request.user, order_id=order_id)
        return Response(serializers.OrderOutSerializer(order).data, status=status.HTTP_202_ACCEPTED)
