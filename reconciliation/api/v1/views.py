"""Reconciliation's staff API: the divergences, and a sweep on demand. Thin."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.permissions import StaffModelPermissions
from reconciliation import selectors
from reconciliation.api.v1.serializers import (
    DivergenceSerializer,
    ReconcileRequestSerializer,
    SweepSerializer,
)
from reconciliation.models import Divergence, Sweep
from reconciliation.services import sweep

# The newest this many; narrow by status, kind or order for the others.
MAX_LISTED = 1000


class DivergenceListView(generics.ListAPIView):
    permission_classes = [StaffModelPermissions]
    serializer_class = DivergenceSerializer

    @extend_schema(
        operation_id="list_divergences",
        parameters=[
            OpenApiParameter("status", str, enum=Divergence.Status.values, description="only these"),
            OpenApiParameter("kind", str, description="only this kind"),
            OpenApiParameter("order_id", str, description="only this order's"),
        ],
        responses={
            200: DivergenceSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="unknown status"),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        status_ = params.get("status")
        if status_ and status_ not in Divergence.Status.values:
            raise ValidationError({"status": [f"one of {', '.join(Divergence.Status.values)}"]})
        divergences = selectors.divergence_list(
            status=status_, kind=params.get("kind"), order_id=params.get("order_id")
        )
        return divergences[:MAX_LISTED]


class ReconcileView(APIView):
    """A sweep on demand: a staff member who may add sweeps (the support group may)."""

    permission_classes = [StaffModelPermissions]
    queryset = Sweep.objects.none()  # the model whose permissions it asks

    @extend_schema(
        operation_id="reconcile",
        request=ReconcileRequestSerializer,
        responses={
            200: SweepSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="field by field: what to change"),
            503: OpenApiResponse(SweepSerializer, description="a service's internal API did not answer"),
        },
    )
    def post(self, request):
        data = ReconcileRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = sweep.sweep_run(triggered_by=f"staff API ({request.user.username})", **data.validated_data)
        body = SweepSerializer(result, context={"seen": selectors.divergences_seen_by(result)}).data
        return Response(
            body, status=status.HTTP_503_SERVICE_UNAVAILABLE if result.error else status.HTTP_200_OK
        )
