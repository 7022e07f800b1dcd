"""The internal, read-only API every service offers the reconciliation service.

    POST /internal/v1/state     {"order_ids": [...]}            the service's state of those orders
                                {"since": ..., "until": ...}    or of the orders changed in a window
    GET  /internal/v1/backlog                                   outbox backlog and open dead letters

It reads (POST only because a set of ids does not fit in a URL) and it is authenticated as a
service (config/service_auth.py). A service's view subclasses StateView and says what its state
of an order is; the answer always carries `service` and `as_of`.
"""

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.service_auth import IsService, ServiceKeyAuthentication
from events.outbox import outbox_backlog

MAX_ORDER_IDS = 1000
MAX_WINDOW_ROWS = 20000


class StateQuerySerializer(serializers.Serializer):
    order_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=MAX_ORDER_IDS
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    # The next page of a window: the records after this order's, among those changed at `since`.
    after_order_id = serializers.CharField(required=False, max_length=64)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_WINDOW_ROWS, default=5000)
    # Whether to add every product's stock (inventory; the sweep asks once per run, not per chunk).
    products = serializers.BooleanField(required=False, default=True)

    def validate(self, data):
        if ("order_ids" in data) == ("since" in data):
            raise serializers.ValidationError("send either order_ids or a window starting at since")
        if "since" in data and data.get("until") and data["until"] <= data["since"]:
            raise serializers.ValidationError({"until": ["until must come after since"]})
        return data


class InternalView(APIView):
    authentication_classes = [ServiceKeyAuthentication]
    permission_classes = [IsService]


class StateView(InternalView):
    """Subclasses implement state(query) -> dict of lists, read in one consistent snapshot."""

    @extend_schema(
        operation_id="internal_state",
        request=StateQuerySerializer,
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="field by field: what to change"),
        },
    )
    def post(self, request):
        query = StateQuerySerializer(data=request.data)
        query.is_valid(raise_exception=True)
        # One snapshot for everything the answer holds, so its parts agree with each other.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            as_of = timezone.now()
            body = self.state(query.validated_data)
        return Response({"service": settings.SERVICE_NAME, "as_of": as_of, **body})

    def state(self, query: dict) -> dict:
        raise NotImplementedError


class BacklogView(InternalView):
    @extend_schema(operation_id="internal_backlog", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response({"service": settings.SERVICE_NAME, **outbox_backlog()})


def window(queryset, query: dict, field: str = "updated_at"):
    """The rows of `queryset` the query asks for: by order id, or changed in its window, oldest
    change first (then by order id, so that a page ends at a (time, order id) the next starts
    after)."""
    if "order_ids" in query:
        return queryset.filter(order_id__in=query["order_ids"])
    rows = queryset.filter(**{f"{field}__gte": query["since"]})
    if query.get("after_order_id"):
        rows = rows.exclude(**{field: query["since"], "order_id__lte": query["after_order_id"]})
    if query.get("until"):
        rows = rows.filter(**{f"{field}__lt": query["until"]})
    return rows.order_by(field, "order_id")[: query["limit"]]
