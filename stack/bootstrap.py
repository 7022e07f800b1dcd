"""Prepare one service to run: migrate its database, collect its static files, create the
local admin user, and create the Kafka topics. Idempotent; run by `make up` for each service.

    DJANGO_SETTINGS_MODULE=config.settings.orders python stack/bootstrap.py orders
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402


def main(service: str) -> None:
    django.setup()
    password = os.environ.get("OMS_ADMIN_PASSWORD", settings.LOCAL_ADMIN_PASSWORD)
    if settings.OMS_ENV == "production" and password == settings.LOCAL_ADMIN_PASSWORD:
        raise SystemExit("OMS_ENV=production refuses the admin password 'admin': set OMS_ADMIN_PASSWORD")
    call_command("migrate", interactive=False, verbosity=1)
    call_command("collectstatic", interactive=False, verbosity=0)
    _ensure_admin(os.environ.get("OMS_ADMIN_USER", "admin"), password)
    call_command("create_topics", wait=90)
    print(f"{service}: ready to start")


def _ensure_admin(username: str, password: str) -> None:
    """The superuser for the admin console; created once, never overwritten (in production, not
    with the repository's password: main refuses it first)."""
    user_model = get_user_model()
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username=username, email="", password=password)
        print(f"created superuser {username!r}")


if __name__ == "__main__":
    main(sys.argv[1])
