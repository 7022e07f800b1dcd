from datetime import timedelta

from celery import shared_task
from django.conf import settings

from orders.services import saga


@shared_task
def orders_fail_stuck() -> int:
    return saga.order_fail_stuck(older_than=timedelta(seconds=settings.ORDERS_PENDING_TIMEOUT_SECONDS))
