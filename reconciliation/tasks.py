from celery import shared_task

from reconciliation.services import sweep


@shared_task
def reconciliation_sweep() -> dict:
    result = sweep.sweep_run(triggered_by="schedule", yield_to_load=True)
    return {"sweep": result.pk, "opened": result.opened, "closed": result.closed, "error": result.error}
