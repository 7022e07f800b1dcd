"""Payments' staff API: read payments. Thin."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.permissions import StaffModelPermissions
from payments.models import Payment


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["payment_id", "order_id", "status", "amount", "currency", "failure_reason", "processed_at"]


class PaymentListView(APIView):
    permission_classes = [StaffModelPermissions]
    queryset = Payment.objects.none()  # the model whose permissions it asks

    @extend_schema(
        operation_id="list_payments",
        parameters=[OpenApiParameter("order_id", str, description="only this order's payment")],
        responses=PaymentSerializer(many=True),
    )
    def get(self, request):
        payments = Payment.objects.all()
        order_id = request.query_params.get("order_id")
        if order_id:
            payments = payments.filter(order_id=order_id)
        return Response(PaymentSerializer(payments[:500], many=True).data)
