"""Reference figures taken in the same run, so the benchmark's result reads as a ratio on any
machine: what PostgreSQL alone does with the writes an order costs (pgbench with
bench/order_writes.sql), and what Kafka alone takes from one producer configured as the relay's
(Kafka's own ProducerPerformance tool)."""

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
    """pgbench runs the order's writes, `clients` at a time, in a scratch database."""
    url = urlsplit(stack.database_url("orders"))
    with stack.database("orders") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if not cursor.fetchone():
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    scratch = url._replace(path=f"/{DATABASE}").geturl()
    with psycopg2.connect(scratch) as connection, connection.cursor() as cursor:
        cursor.execute((HERE / "order_writes_schema.sql").read_text())
    result = subprocess.run(
        [
            f"{os.environ['PG_BIN']}/pgbench",
            "--no-vacuum",
            f"--client={clients}",
            "--jobs=2",
            "--protocol=extended",
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


def kafka_records_per_second(records: int) -> dict:
    """Kafka's ProducerPerformance: `records` envelopes' worth of bytes, acks=all, idempotent."""
    admin = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
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
