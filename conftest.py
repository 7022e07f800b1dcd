"""Fixtures shared by every test run, registered once here."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Every test starts with no API token remembered (config/authentication.py) and no request
    counted against a rate limit."""
    from django.conf import settings

    if settings.configured and hasattr(settings, "SERVICE_NAME"):  # a service, not the card gateway
        from config.authentication import token_cache_clear

        token_cache_clear()
        from django.core.cache import cache

        cache.clear()  # the rate limits' counters (config/throttling.py)
    yield


@pytest.fixture
def pipeline_measured(db):
    """Store the pipeline's stages as `watch_pipeline` would have measured them `ago` seconds
    back: measured({"outbox": 0.0, "consumer:inventory": 12.5}, stalled={...}). A stage with a
    delay has events waiting (100, or `backlogs[name]`), worked off at `drains[name]` events a
    second (not known, by default); a stalled one made no progress for longer than the stall
    bound; the backlog of those in `grew` grew since the measurement before."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from events.models import PipelineStage

    def measured(
        delays: dict[str, float], *, stalled=(), ago: float = 0.0, backlogs=None, drains=None, grew=()
    ) -> None:
        at = timezone.now() - timedelta(seconds=ago)
        stuck_since = at - timedelta(seconds=settings.PIPELINE_STALL_SECONDS + 1)
        for name, seconds in delays.items():
            PipelineStage.objects.update_or_create(
                name=name,
                defaults={
                    "delay_seconds": seconds,
                    "backlog": (backlogs or {}).get(name, 100 if seconds or name in stalled else 0),
                    "drain_per_second": (drains or {}).get(name, 0.0),
                    "backlog_grew": name in grew,
                    "progressed_at": stuck_since if name in stalled else at,
                    "measured_at": at,
                },
            )

    return measured


@pytest.fixture
def saga_caught_up(pipeline_measured):
    """Every stage of the saga's path measured just now, nothing waiting."""
    pipeline_measured(
        {"outbox": 0.0, "consumer:inventory": 0.0, "consumer:payments": 0.0, "consumer:orders": 0.0}
    )


@pytest.fixture
def viewer(django_user_model):
    """A staff member who may view every table of the service, and do nothing else."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def support_user(django_user_model):
    """A staff member of the `support` group the service's migrations create (config/support.py)."""
    from django.contrib.auth.models import Group

    from config.support import GROUP

    user = django_user_model.objects.create_user("helper", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=GROUP))
    return user
