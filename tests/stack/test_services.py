"""Every service of the running stack answers on its port, and the process manager keeps it alive."""

import json
import os
import signal
import urllib.error
import urllib.request

import pytest

from tests.stack.conftest import SERVICES, ctl, service_url, wait_until


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_ready_on_its_port(service):
    # Ready within a minute: a test before this one may have restarted Kafka, after which a
    # pipeline watcher can go unanswered by the group coordinator for a while (degraded, rightly).
    answers = []

    def ready() -> bool:
        answers.append(get(f"{service_url(service)}/readyz"))
        return answers[-1][0] == 200 and json.loads(answers[-1][1])["status"] == "ready"

    wait_until(ready, timeout=60, interval=1, message=f"{service}'s /readyz to say ready")
    assert json.loads(answers[-1][1]) == {
        "status": "ready",
        "checks": {"database": "ok", "kafka": "ok", "pipeline": "ok"},
    }


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_renders_its_admin_login_page_with_its_static_files(service):
    status, body = get(f"{service_url(service)}/admin/login/")
    css_status, _ = get(f"{service_url(service)}/static/admin/css/base.css")

    assert status == 200
    assert f"<title>Log in | {service} admin</title>" in body
    assert css_status == 200


def test_every_process_of_the_stack_runs():
    lines = [line.split() for line in ctl("status").splitlines() if line.strip()]

    # PostgreSQL, Redis, the card gateway simulator and Kafka's nodes; and web, relay, pipeline
    # watcher, Celery worker and beat and the event workers for each service
    workers = int(os.environ["EVENT_WORKERS"])
    assert len(lines) == 3 + int(os.environ["KAFKA_NODES"]) + (5 + workers) * len(SERVICES)
    assert {line[1] for line in lines} == {"RUNNING"}, lines


@pytest.mark.parametrize("program", ["app:beat-orders", "app:web-payments"])
def test_the_process_manager_restarts_a_killed_process(program):
    # given
    old_pid = int(ctl("pid", program))

    # when
    os.kill(old_pid, signal.SIGKILL)

    # then
    def restarted():
        status = ctl("status", program).split()
        return status[1] == "RUNNING" and int(ctl("pid", program)) != old_pid

    wait_until(restarted, timeout=60, message=f"{program} to be restarted")
    if program.startswith("app:web-"):
        service = program.removeprefix("app:web-")
        wait_until(
            lambda: get(f"{service_url(service)}/readyz")[0] == 200,
            timeout=60,
            message=f"{service} to be ready again",
        )


def test_a_service_reports_its_database_gone_and_recovers_when_it_returns():
    url = f"{service_url('inventory')}/readyz"
    ctl("stop", "infra:postgres")
    try:
        status, body = get(url)
        assert status == 503
        assert json.loads(body)["checks"]["database"] != "ok"
    finally:
        ctl("start", "infra:postgres")

    wait_until(lambda: get(url)[0] == 200, timeout=60, message="inventory to be ready again")
