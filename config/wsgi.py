"""WSGI entry point; DJANGO_SETTINGS_MODULE picks the service (gunicorn config.wsgi).

A service's WSGI_MIDDLEWARE wraps Django's handler, the first named outermost: what must answer
before Django sets up a request at all (the orders service's admission control, whose refusals
cost a tenth of what a request through Django's middleware and logging does).
"""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

application = get_wsgi_application()
for path in reversed(settings.WSGI_MIDDLEWARE):
    application = import_string(path)(application)
