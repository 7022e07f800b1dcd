"""Prepare one service to run: migrate its database, collect its static files, create the
local admin user, create the Kafka topics and grant the service's principal its ACLs (run as
the operators' Kafka principal). Idempotent; run by `make up` for each service, and quick when
there is nothing to do: migrate applies nothing, and the static files are collected again only
when their sources changed.

    DJANGO_SETTINGS_MODULE=config.settings.orders python stack/bootstrap.py orders
"""

import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.staticfiles.finders import get_finders  # noqa: E402
from django.core.management import call_command  # noqa: E402


def main(service: str) -> None:
    django.setup()
    password = os.environ.get("OMS_ADMIN_PASSWORD", settings.LOCAL_ADMIN_PASSWORD)
    if settings.OMS_ENV == "production" and password == settings.LOCAL_ADMIN_PASSWORD:
        raise SystemExit("OMS_ENV=production refuses the admin password 'admin': set OMS_ADMIN_PASSWORD")
    call_command("migrate", interactive=False, verbosity=1)
    _collect_static()
    _ensure_admin(os.environ.get("OMS_ADMIN_USER", "admin"), password)
    call_command("create_topics", wait=90)
    call_command("grant_kafka_acls")
    print(f"{service}: ready to start")


def _collect_static() -> None:
    """collectstatic, unless the last one collected these very sources (each file the finders
    list, by path, size and modification time; the fingerprint is kept beside STATIC_ROOT, out
    of what is served). WhiteNoise compresses every file each time it runs: about 25 s of a
    core per service, where the fingerprint takes a fraction of a second."""
    fingerprint = _static_sources()
    stamp = Path(settings.STATIC_ROOT).with_suffix(".sources")
    if stamp.exists() and stamp.read_text() == fingerprint and Path(settings.STATIC_ROOT).is_dir():
        return
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)


def _static_sources() -> str:
    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    for finder in get_finders():
        for path, storage in sorted(finder.list([]), key=lambda found: found[0]):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _ensure_admin(username: str, password: str) -> None:
    """The superuser for the admin console; created once, never overwritten (in production, not
    with the repository's password: main refuses it first)."""
    user_model = get_user_model()
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username=username, email="", password=password)
        print(f"created superuser {username!r}")


if __name__ == "__main__":
    main(sys.argv[1])
