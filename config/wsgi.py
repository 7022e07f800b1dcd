"""WSGI entry point; DJANGO_SETTINGS_MODULE picks the service (gunicorn config.wsgi)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
