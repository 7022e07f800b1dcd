"""Reference figures taken in the same run, so the benchmark's result reads as a ratio on any
machine: what PostgreSQL alone does with the SQL an order costs (pgbench with
bench/order_writes.sql on copies of the services' own tables), and what Kafka alone takes from
one producer configured as the relay's (Kafka's own ProducerPerformance tool)."""

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from confluent_kafka.admin import AdminClient, NewTopic

from bench import stack

HERE = Path(__file__).parent
DATABASE = "oms_bench_reference"
TOPIC = "oms.bench.reference"
# The size of an OrderCreated envelope, the largest of an order's events (about 600 bytes).
RECORD_BYTES = 600


def postgres_orders_per_second(seconds: int, clients: int = 8) -> dict:
    """pgbench runs an order's SQL (bench/order_writes.sql), `clients` at a time, on copies of
    the services' tables in a scratch database, each service's in a schema of its name."""
    url = urlsplit(stack.database_url("orders"))
    with stack.database("orders") as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
    scratch = url._replace(path=f"/{DATABASE}").geturl()
    for service in stack.SERVICES:
        _schema_copy(service, scratch)
    with psycopg2.connect(scratch) as connection, connection.cursor() as cursor:
        cursor.execute(SEED)
    result = subprocess.run(
        [
            f"{os.environ['PG_BIN']}/pgbench",
            "--no-vacuum",
            f"--client={clients}",
            "--jobs=2",
            # Named statements, prepared once per connection, as the services' hot paths send them.
            "--protocol=prepared",
            f"--time={seconds}",
            f"--file={HERE / 'order_writes.sql'}",
            scratch,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    return {
        "tool": "pgbench",
        "clients": clients,
        "seconds": seconds,
        "orders_per_second": round(float(tps.group(1)), 1),
        "latency_ms_average": float(latency.group(1)),
    }


def _schema_copy(service: str, scratch: str) -> None:
    """The service's tables, indexes, constraints and triggers, empty, in schema `service`."""
    dump = subprocess.run(
        [
            f"{os.environ['PG_BIN']}/pg_dump",
            "--schema-only",
            "--schema=public",
            "--no-owner",
            "--no-privileges",
            stack.database_url(service),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # pg_dump names every object public.<name> (the trigger functions' bodies name none) and
    # creates and comments on the schema itself.
    ddl = (
        dump.replace("public.", f"{service}.")
        .replace("CREATE SCHEMA public;", f"CREATE SCHEMA {service};")
        .replace("COMMENT ON SCHEMA public", f"COMMENT ON SCHEMA {service}")
    )
    subprocess.run(
        [f"{os.environ['PG_BIN']}/psql", "--quiet", "--set=ON_ERROR_STOP=1", "--no-psqlrc", scratch],
        input=ddl,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


# What the script's orders refer to: its customers (1 to 1,000) and its products ('ref-1' to
# 'ref-20', stock enough for any run).
SEED = """
    INSERT INTO orders.auth_user (id, password, is_superuser, username, first_name, last_name, email,
                                  is_staff, is_active, date_joined)
    SELECT n, '!', false, 'ref-' || n, '', '', '', false, true, now() FROM generate_series(1, 1000) n;
    INSERT INTO orders.orders_catalogproduct (sku, name, price, version, updated_at)
    SELECT 'ref-' || n, 'ref', 3.33, 1, now() FROM generate_series(1, 20) n;
    INSERT INTO inventory.inventory_product (sku, name, price, stock_quantity, reserved_quantity, version,
                                             created_at, updated_at)
    SELECT 'ref-' || n, 'ref', 3.33, 1000000000, 0, 1, now(), now() FROM generate_series(1, 20) n;
"""


def kafka_records_per_second(records: int) -> dict:
    """Kafka's ProducerPerformance: `records` envelopes' worth of bytes, acks=all, idempotent."""
    admin = AdminClient(stack.kafka_config())
    replication = int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))
    if TOPIC not in admin.list_topics(timeout=10).topics:
        admin.create_topics([NewTopic(TOPIC, num_partitions=6, replication_factor=replication)])[
            TOPIC
        ].result(30)
    try:
        result = subprocess.run(
            [
                "java",
                "-Xmx256m",
                "-cp",
                f"{os.environ['VAR']}/kafka/libs/*",
                f"-Dlog4j2.configurationFile={stack.ROOT / 'stack' / 'kafka' / 'log4j2.properties'}",
                "org.apache.kafka.tools.ProducerPerformance",
                "--topic",
                TOPIC,
                "--num-records",
                str(records),
                "--record-size",
                str(RECORD_BYTES),
                "--throughput",
                "-1",
                # As the operators' principal (the settings make up writes for Kafka's tools).
                "--producer.config",
                f"{os.environ['VAR']}/kafka/admin-client.properties",
                "--producer-props",
                f"bootstrap.servers={os.environ['KAFKA_BOOTSTRAP_SERVERS']}",
                "acks=all",
                "enable.idempotence=true",
                "linger.ms=5",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    finally:
        admin.delete_topics([TOPIC])[TOPIC].result(30)
    summary = re.search(
        r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency",
        result.stdout,
    )
    return {
        "tool": "kafka ProducerPerformance",
        "records": int(summary.group(1)),
        "record_bytes": RECORD_BYTES,
        "records_per_second": round(float(summary.group(2))),
        "megabytes_per_second": float(summary.group(3)),
        "latency_ms_average": float(summary.group(4)),
    }
