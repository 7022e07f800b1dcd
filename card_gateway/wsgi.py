"""The card gateway simulator's WSGI entry point (gunicorn card_gateway.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "card_gateway.settings")
application = get_wsgi_application()
