"""The running stack as the benchmark sees it: its addresses, its databases, staff tokens, and a
sampler of how far behind the event pipeline is (outbox backlog, consumer lag) and where the CPU
goes, once a second.

Everything here reads the stack from outside, as an operator would: SQL on each service's
database, Kafka's own offsets, the services' HTTP APIs. It imports no service code.
"""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import psycopg2
import requests
from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("orders", "inventory", "payments", "reconciliation")
# The Python processes of the stack (stack/supervisord.conf), by what their command line holds.
# The card gateway simulator's processes: it stands in for the payment provider, whose CPU is
# not the system's; measures.py counts it apart from "CPU ms / order".
GATEWAY = "card_gateway"
# The benchmark's own processes: Locust, which offers the load, and this one, which samples.
LOAD_GENERATOR = "bench"
KIND_MARKERS = (
    ("gunicorn", "web"),
    ("manage.py consume", "consume"),
    ("manage.py relay_outbox", "relay"),
    ("manage.py watch_pipeline", "watch"),
    ("celery -A config.celery beat", "beat"),
    ("celery -A config.celery worker", "celery"),
)


def kafka_config(**extra) -> dict:
    """librdkafka settings for the bench's own Kafka clients: the stack's broker, as the
    operators' principal (stack/env.sh; the services connect as themselves)."""
    return {
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": os.environ["KAFKA_ADMIN_USERNAME"],
        "sasl.password": os.environ["KAFKA_ADMIN_PASSWORD"],
        **extra,
    }


def url(service: str) -> str:
    return f"http://127.0.0.1:{os.environ[f'{service.upper()}_PORT']}"


def database_url(service: str) -> str:
    return os.environ[f"{service.upper()}_DATABASE_URL"]


@contextmanager
def database(service: str):
    connection = psycopg2.connect(database_url(service))
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def query(service: str, sql: str, params=()) -> list[tuple]:
    with database(service) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def setting(service: str, name: str) -> str:
    """A Django setting of a service as it runs (its settings module and this environment)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "diffsettings", "--all"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": f"config.settings.{service}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" = ")
        if key.strip("#").strip() == name:
            return value.removesuffix("###").strip()
    raise LookupError(f"{service} has no setting {name}")


def ctl(*args: str) -> str:
    """supervisorctl for the stack (stack/ctl): its output."""
    result = subprocess.run([str(ROOT / "stack" / "ctl"), *args], capture_output=True, text=True, timeout=120)
    return result.stdout.strip()


def event_workers(count: int | None = None) -> int:
    """The event workers each service runs; with `count`, first make it so (the stack's own
    stack/scripts/event-workers.sh, which returns once every service is ready again)."""
    if count is not None:
        subprocess.run(
            [str(ROOT / "stack" / "scripts" / "event-workers.sh"), str(count)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    return sum(1 for line in ctl("status").splitlines() if line.startswith("app:consume-orders-"))


def staff_token(service: str) -> str:
    """The local admin's API token in `service`, made by DRF's own command, as an operator would."""
    result = subprocess.run(
        [sys.executable, "manage.py", "drf_create_token", os.environ.get("OMS_ADMIN_USER", "admin")],
        cwd=ROOT,
        env=os.environ
        | {"DJANGO_SETTINGS_MODULE": f"config.settings.{service}", "DATABASE_URL": database_url(service)},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()[2]


def staff_session(service: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {staff_token(service)}"
    return session


class Sampler(threading.Thread):
    """Every `interval` seconds: each service's outbox backlog, each consumer group's lag, and the
    CPU seconds each kind of process used. Samples are (epoch seconds, {name: value})."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True, name="bench-sampler")
        self.interval = interval
        self.samples: list[tuple[float, dict]] = []
        self._stopping = threading.Event()
        self._kafka_connect()
        self._connections = {service: psycopg2.connect(database_url(service)) for service in SERVICES}
        for connection in self._connections.values():
            connection.autocommit = True
        self._cpu_before: dict[int, float] = {}
        self._kinds: dict[int, str | None] = {}

    def run(self):
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.samples.append((time.time(), self.sample()))
            except psycopg2.Error as error:
                # A database or broker down (make chaos does that): a gap in the samples, not an end.
                self.samples.append((time.time(), {"error": str(error)[:200]}))
                self._reconnect()
            except KafkaException as error:
                # New clients: those that saw the broker go can keep waiting on requests it never answers.
                self.samples.append((time.time(), {"error": f"kafka: {error}"[:200]}))
                self._kafka_close()
                self._kafka_connect()
            self._stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def latest(self, max_age: float = 3.0) -> dict | None:
        """The newest sample, if it is recent and complete (None while the stack cannot answer)."""
        if not self.samples:
            return None
        at, values = self.samples[-1]
        return values if time.time() - at <= max_age and "error" not in values else None

    def stop(self):
        self._stopping.set()
        self.join(timeout=10)
        self._kafka_close()
        for connection in self._connections.values():
            connection.close()

    def sample(self) -> dict:
        values: dict[str, float] = {}
        ends = self._event_partition_ends()
        for service, connection in self._connections.items():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM events_outboxevent WHERE published_at IS NULL")
                values[f"outbox.{service}"] = cursor.fetchone()[0]
            values[f"lag.{service}"] = self._lag(service, ends)
        for kind, seconds in self._cpu_seconds().items():
            values[f"cpu.{kind}"] = seconds
        values["steal"] = self._steal_seconds()
        return values

    def _steal_seconds(self) -> float:
        """CPU seconds the hypervisor gave other guests since the previous sample (/proc/stat's
        steal, all cores): a shared machine's noise, reported beside every figure."""
        steal = psutil.cpu_times().steal
        before, self._steal_before = getattr(self, "_steal_before", steal), steal
        return steal - before

    def _event_partition_ends(self) -> dict[tuple[str, int], int]:
        """The end offset of every partition of the services' event topics (oms.<service>.events),
        in one request (ListOffsets for "latest"): the sampler's own load on the broker counts in
        the CPU the benchmark reports, so it asks as little as it can."""
        if self._partitions is None:
            topics = self._watermarks.list_topics(timeout=2).topics
            self._partitions = [
                TopicPartition(name, partition, OFFSET_END)
                for name, topic in topics.items()
                if name.startswith("oms.") and name.endswith(".events")
                for partition in topic.partitions
            ]
        latest = self._watermarks.offsets_for_times(self._partitions, timeout=2)
        return {(p.topic, p.partition): p.offset for p in latest}

    def _lag(self, group: str, ends: dict[tuple[str, int], int]) -> int:
        """Messages after the group's committed offsets (a partition the group never committed is
        one it does not read)."""
        partitions = [TopicPartition(topic, partition) for topic, partition in ends]
        committed = self._groups[group].committed(partitions, timeout=3)
        return sum(max(ends[(p.topic, p.partition)] - p.offset, 0) for p in committed if p.offset >= 0)

    def _kafka_connect(self):
        # Quiet clients: a broker down on purpose (make chaos) shows as gaps in the samples. Plain
        # consumers, not the admin API: an admin request pending while the broker went away has
        # aborted the process inside librdkafka (confluent-kafka-python #1640).
        quiet = kafka_config(log_level=0)
        self._watermarks = Consumer(quiet | {"group.id": "bench-lag-probe"})
        self._partitions: list[TopicPartition] | None = None  # looked up once per client
        # One per group, to read its committed offsets; it never subscribes, so never joins the group.
        self._groups = {
            group: Consumer(quiet | {"group.id": group, "enable.auto.commit": False}) for group in SERVICES
        }

    def _kafka_close(self):
        for client in (self._watermarks, *self._groups.values()):
            client.close()

    def _reconnect(self):
        for service, connection in list(self._connections.items()):
            if (
                connection.closed
                or connection.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN
            ):
                try:
                    self._connections[service] = psycopg2.connect(database_url(service))
                    self._connections[service].autocommit = True
                except psycopg2.Error:
                    pass

    def _cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) each kind of process used since the previous sample, by
        kind and service where there is one: "consume.reconciliation", "postgres.orders", "kafka"."""
        totals: dict[str, float] = {}
        for process in _stack_processes():
            if process.pid not in self._kinds:
                self._kinds[process.pid] = _process_kind(process)
            kind = self._kinds[process.pid]
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            if kind is None:
                continue
            used = times.user + times.system
            totals[kind] = totals.get(kind, 0.0) + used - self._cpu_before.get(process.pid, used)
            self._cpu_before[process.pid] = used
        return totals


def _stack_processes() -> list[psutil.Process]:
    """This stack's processes (everything under its supervisord) and the benchmark's own."""
    processes = psutil.Process().children(recursive=True) + [psutil.Process()]
    pidfile = Path(os.environ["VAR"]) / "run" / "supervisord.pid"
    with suppress(OSError, ValueError, psutil.NoSuchProcess):
        processes += psutil.Process(int(pidfile.read_text())).children(recursive=True)
    return processes


def _process_kind(process: psutil.Process) -> str | None:
    try:
        cmdline = process.cmdline()
        line = " ".join(cmdline)
        if line.startswith("postgres:"):
            # "postgres: oms_orders oms_orders 127.0.0.1(5000) idle": a backend, named by its database.
            database = cmdline[0].split()[2] if len(cmdline[0].split()) > 2 else ""
            return f"postgres.{database.removeprefix('oms_')}" if database.startswith("oms_") else "postgres"
        if cmdline and cmdline[0].endswith("/postgres"):
            return "postgres"
        if "kafka.Kafka" in line:
            return "kafka"
        if "redis-server" in line:
            return "redis"
        if "card_gateway.wsgi" in line:
            return GATEWAY  # the provider's stand-in: not the system's CPU

        if process.pid == os.getpid() or "locust" in line:
            return LOAD_GENERATOR
        for marker, kind in KIND_MARKERS:
            if marker in line:
                settings = process.environ().get("DJANGO_SETTINGS_MODULE", "")
                return f"{kind}.{settings.rsplit('.', 1)[-1]}" if settings else kind
    except (psutil.NoSuchProcess, psutil.AccessDenied, IndexError):
        return None
    return None
