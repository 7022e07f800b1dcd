from celery import shared_task

from payments import services


@shared_task
def payments_settle_stalled() -> int:
    return services.payments_settle_stalled()
