"""The Prometheus alerting rules (stack/prometheus/) are valid, behave as their unit tests say, and
only use metrics the services expose.

promtool is a hard requirement: stack/scripts/system-packages.sh installs it from Debian's
prometheus package, so a missing promtool fails these tests instead of skipping them.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "stack" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

# What the services expose on /metrics (events/metrics.py, orders/metrics.py,
# reconciliation/metrics.py), and `up`,
# which Prometheus itself records for every scrape.
KNOWN_METRICS = {
    "events_outbox_published_total",
    "events_outbox_publish_errors_total",
    "events_outbox_backlog",
    "events_outbox_oldest_unpublished_age_seconds",
    "events_consumed_total",
    "events_handler_retries_total",
    "events_dead_letters_total",
    "events_dead_letters_open",
    "events_consumer_lag",
    "events_pipeline_delay_seconds",
    "events_pipeline_backlog",
    "events_pipeline_stalled",
    "events_pipeline_measured_timestamp_seconds",
    "orders_placements_shed_total",
    "payments_gateway_unanswered_total",
    "reconciliation_divergences_open",
    "reconciliation_divergence_oldest_open_age_seconds",
    "reconciliation_orders_pending",
    "reconciliation_orders_pending_oldest_age_seconds",
    "reconciliation_last_sweep_timestamp_seconds",
    "reconciliation_last_sweep_fixes_held",
    "up",
}
KNOWN_HISTOGRAMS = {
    "events_handler_duration_seconds",
    "payments_gateway_seconds",
    "reconciliation_saga_completion_seconds",
    "reconciliation_detection_delay_seconds",
}
KNOWN_SERIES = KNOWN_METRICS | {
    f"{histogram}_{suffix}" for histogram in KNOWN_HISTOGRAMS for suffix in ("bucket", "sum", "count")
}
SEVERITIES = {"critical", "warning"}

# PromQL words that look like metric names but are not.
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def promtool(*args: str) -> subprocess.CompletedProcess:
    executable = shutil.which("promtool")
    if executable is None:
        pytest.fail("promtool is missing: run stack/scripts/system-packages.sh (Debian's prometheus package)")
    return subprocess.run([executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def alerting_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def metric_names(promql: str) -> set[str]:
    """The metric names a PromQL expression selects (enough PromQL for these rules)."""
    promql = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)  # strings: label values, label_replace args
    promql = re.sub(r"\{[^}]*\}", "", promql)  # label matchers
    promql = re.sub(r"\[[^\]]*\]", "", promql)  # range and subquery durations
    promql = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", promql)
    identifiers = re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", promql)
    return {
        match[1]
        for match in identifiers
        if match[2] is None and match[1].lower() not in PROMQL_KEYWORDS  # not a function call
    }


def template_queries(annotation: str) -> list[str]:
    """The PromQL of `query "..."` calls in an annotation template."""
    return [text.replace('\\"', '"') for text in re.findall(r'\bquery\s+"((?:[^"\\]|\\.)*)"', annotation)]


def test_promtool_accepts_the_alerting_rules():
    # when
    result = promtool("check", "rules", str(RULES.relative_to(ROOT)))

    # then
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerting_rules_pass_their_unit_tests():
    # when
    result = promtool("test", "rules", str((PROMETHEUS / "alerts_test.yml").relative_to(ROOT)))

    # then
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_example_prometheus_config():
    # when
    result = promtool("check", "config", str((PROMETHEUS / "prometheus.yml").relative_to(ROOT)))

    # then
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_metric_name_parser_finds_selectors_only():
    # given
    promql = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y"}[5m]))) > 2'
        ' or label_replace(b > 1e3, "c", "$1", "d", "(.*)") and on() absent(e) unless time() - f offset 5m'
    )

    # when
    names = metric_names(promql)

    # then
    assert names == {"a_bucket", "b", "e", "f"}


def test_every_metric_the_rules_use_is_one_the_services_expose():
    # given
    used = {}
    for rule in alerting_rules():
        templates = rule["annotations"].values()
        queries = [rule["expr"], *(query for text in templates for query in template_queries(text))]
        for query in queries:
            for name in metric_names(query):
                used.setdefault(name, set()).add(rule["alert"])

    # when
    unknown = {name: sorted(alerts) for name, alerts in used.items() if name not in KNOWN_SERIES}

    # then
    assert used, "no metric names found in the rules"
    assert unknown == {}


def test_every_known_metric_is_defined_by_the_services():
    # given
    apps = ("events", "orders", "payments", "reconciliation")
    sources = "".join((ROOT / app / "metrics.py").read_text() for app in apps)

    # when
    defined = set(re.findall(r'"((?:events|orders|payments|reconciliation)_\w+)"', sources))

    # then
    assert (KNOWN_METRICS | KNOWN_HISTOGRAMS) - {"up"} <= defined


def test_every_alert_has_a_severity_and_annotations_a_support_engineer_can_act_on():
    # given
    headings = re.findall(r"^#+\s+(.+?)\s*$", OPERATIONS_DOC.read_text(), flags=re.MULTILINE)
    anchors = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}

    for rule in alerting_rules():
        # when
        annotations = rule.get("annotations", {})
        doc, _, anchor = annotations.get("runbook", "").partition("#")

        # then
        assert rule.get("labels", {}).get("severity") in SEVERITIES, rule["alert"]
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]
        assert doc == "docs/operations.md", rule["alert"]
        assert anchor in anchors, (rule["alert"], anchor)
