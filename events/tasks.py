"""Celery tasks of the events app; scheduled by django-celery-beat (see migration 0003)."""

from celery import shared_task

from events import retention


@shared_task
def outbox_prune() -> int:
    return retention.outbox_prune()


@shared_task
def inbox_prune() -> int:
    return retention.inbox_prune()
