"""The Celery app of whichever service DJANGO_SETTINGS_MODULE names.

Run as `celery -A config.celery worker` and `celery -A config.celery beat`; each service's tasks
go to its own queue (CELERY_TASK_DEFAULT_QUEUE) and beat reads its schedules from the service's
database (django-celery-beat), so they can be edited in the admin.
"""

from celery import Celery

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
