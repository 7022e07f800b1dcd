"""Payments' staff API: read payments. Thin."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from config.permissions import StaffModelPermissions
from payments import selectors
from payments.api.v1.serializers import PaymentSerializer
from payments.models import Payment


class PaymentListView(APIView):
    permission_classes = [StaffModelPermissions]
    queryset = Payment.objects.none()  # the model whose permissions it asks

    @extend_schema(
        operation_id="list_payments",
        parameters=[OpenApiParameter("order_id", str, description="only this order's payment")],
        responses=PaymentSerializer(many=True),
    )
    def get(self, request):
        payments = selectors.payment_list(order_id=request.query_params.get("order_id") or None)
        return Response(PaymentSerializer(payments[: selectors.PAYMENT_LIST_MAX], many=True).data)
