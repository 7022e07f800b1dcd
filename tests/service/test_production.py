"""OMS_ENV=production: the service refuses to start with a secret the repository holds, and
`manage.py check --deploy` finds nothing to warn about once real secrets are set."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run(*command, **environment):
    """A fresh process of this service under `environment` (on top of this one's; None unsets)."""
    env = (
        os.environ
        | {"DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE, "OMS_ENV": "production"}
        | environment
    )
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def real_secrets():
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "INTERNAL_API_KEYS": f"reconciliation={secrets.token_urlsafe(32)}",
        "DEBUG": "false",
        "PAYMENTS_GATEWAY_API_KEY": f"sk_live_{secrets.token_urlsafe(32)}",
        "KAFKA_USERNAME": settings.SERVICE_NAME,
        "KAFKA_PASSWORD": secrets.token_urlsafe(32),
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    }


def test_production_refuses_to_start_with_the_local_stacks_secrets():
    result = run("manage.py", "check", SECRET_KEY=None, INTERNAL_API_KEYS=None, DEBUG="true")

    assert result.returncode != 0
    assert "OMS_ENV=production refuses to start: SECRET_KEY is the local stack's" in result.stderr
    assert "INTERNAL_API_KEYS['reconciliation'] is the local stack's" in result.stderr
    assert "DEBUG is on" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "refusal"),
    [
        ("SECRET_KEY", "short", "SECRET_KEY is too weak"),
        ("SECRET_KEY", "ab" * 40, "SECRET_KEY is too weak"),  # long, but two characters
        (
            "INTERNAL_API_KEYS",
            "reconciliation=",
            "INTERNAL_API_KEYS['reconciliation'] is under 32 characters",
        ),
        ("INTERNAL_API_KEYS", "reconciliation=s3cret", "INTERNAL_API_KEYS['reconciliation'] is under 32"),
        ("ALLOWED_HOSTS", "*", "ALLOWED_HOSTS must name the service's hosts"),
    ],
    ids=["short-key", "repetitive-key", "empty-internal-key", "short-internal-key", "any-host"],
)
def test_production_refuses_to_start_with_a_weak_value(setting, value, refusal):
    result = run("manage.py", "check", **(real_secrets() | {setting: value}))

    assert result.returncode != 0
    assert refusal in result.stderr


def test_production_refuses_the_local_stacks_kafka_password():
    result = run("manage.py", "check", **(real_secrets() | {"KAFKA_PASSWORD": None}))

    assert result.returncode != 0
    assert f"KAFKA_PASSWORD is the local stack's '{settings.SERVICE_NAME}' password" in result.stderr


def test_production_refuses_an_unauthenticated_kafka():
    result = run("manage.py", "check", **(real_secrets() | {"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}))

    assert result.returncode != 0
    assert "refuses KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in result.stderr


def test_the_deploy_check_is_clean_in_production_with_real_secrets():
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **real_secrets())

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_bootstrap_refuses_the_default_admin_password_before_touching_anything():
    # a database that is not there: the refusal comes before the first migration
    result = run(
        "stack/bootstrap.py",
        settings.SERVICE_NAME,
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        OMS_ADMIN_PASSWORD="admin",
        **real_secrets(),
    )

    assert result.returncode != 0
    assert "refuses the admin password 'admin'" in result.stderr
