"""Fixtures shared by every test run, registered once here."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Every test starts with no API token remembered (config/authentication.py)."""
    from django.conf import settings

    if settings.configured:
        from config.authentication import token_cache_clear

        token_cache_clear()
    yield
