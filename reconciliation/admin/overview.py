"""The overview page of the support console: divergences and saga completion time over time
(charts drawn with matplotlib), and each service's current consumer lag, how far behind its
consumers are (as this service's `watch_pipeline` measured them) and its outbox backlog."""

import io

import matplotlib

matplotlib.use("Agg")  # no display: render to SVG in memory

from django.contrib import admin  # noqa: E402
from django.core.exceptions import PermissionDenied  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.utils.safestring import mark_safe  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from events import pipeline  # noqa: E402
from events.lag import consumer_group_lag  # noqa: E402
from events.outbox import outbox_backlog  # noqa: E402
from events.topics import SERVICES  # noqa: E402
from reconciliation import clients, selectors  # noqa: E402
from reconciliation.models import Severity, Sweep  # noqa: E402


def overview_view(request):
    # What it shows is the divergences' and the pipeline's: for who may view divergences, not
    # for every staff member.
    if not request.user.has_perm("reconciliation.view_divergence"):
        raise PermissionDenied
    delays = pipeline.delays()
    context = {
        **admin.site.each_context(request),
        "title": "Reconciliation overview",
        "open_divergences": selectors.divergences_open_by_kind(),
        "services": [_service_health(service, delays) for service in SERVICES],
        "last_sweep": Sweep.objects.order_by("-started_at").first(),
        "divergence_chart": mark_safe(_divergence_chart()),  # noqa: S308 - SVG rendered by matplotlib
        "completion_chart": mark_safe(_completion_chart()),  # noqa: S308
    }
    return render(request, "admin/reconciliation/overview.html", context)


def _service_health(service: str, delays: dict[str, pipeline.Delay]) -> dict:
    if service == "reconciliation":
        backlog = outbox_backlog()
    else:
        try:
            backlog = clients.backlog(service)
        except clients.ServiceUnavailable as exc:
            backlog = {"error": str(exc)}
    lag = consumer_group_lag(service)
    return {
        "name": service,
        "delay": delays.get(pipeline.consumer_stage(service)),
        "lag": None if lag is None else sum(lag.values()),
        "lag_by_topic": lag,
        **backlog,
    }


def _divergence_chart() -> str:
    """Divergences detected per hour over the last day, by severity: each hour's bar spans that
    hour (matplotlib's dates are in days, so an hour is 1/24 wide), the severities stacked."""
    rows = selectors.divergences_per_hour(hours=24)
    figure = Figure(figsize=(8, 2.6))
    axes = figure.subplots()
    below: dict = {}
    for severity in Severity:
        points = [(hour, count) for hour, sev, count in rows if sev == severity]
        if points:
            hours, counts = [p[0] for p in points], [p[1] for p in points]
            bottoms = [below.get(hour, 0) for hour in hours]
            axes.bar(hours, counts, width=1 / 24, align="edge", bottom=bottoms, label=severity.value)
            for hour, count in points:
                below[hour] = below.get(hour, 0) + count
    axes.set_title("Divergences detected per hour (last 24 h)")
    axes.set_ylabel("divergences")
    if rows:
        axes.legend(loc="upper left")
    figure.autofmt_xdate()
    return _svg(figure)


def _completion_chart() -> str:
    """Saga completion time (created -> terminal), p50 and p99 per 5 minutes, last 6 hours."""
    rows = selectors.saga_completion_percentiles(hours=6)
    figure = Figure(figsize=(8, 2.6))
    axes = figure.subplots()
    if rows:
        times = [r[0] for r in rows]
        axes.plot(times, [r[1] for r in rows], marker=".", label="p50")
        axes.plot(times, [r[2] for r in rows], marker=".", label="p99")
        axes.legend(loc="upper left")
    axes.set_title("Saga completion time, created → terminal (last 6 h, per 5 min)")
    axes.set_ylabel("seconds")
    figure.autofmt_xdate()
    return _svg(figure)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
