"""gunicorn settings for each service's web process; the process environment sets port and size."""

import contextlib
import os
import threading

bind = f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ['PORT']}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
# The longest request line (method, URL and version) served: a longer one gets gunicorn's own 414
# page, before Django sees it; every service's schema documents it (config/openapi.py).
limit_request_line = 4094
graceful_timeout = 20
keepalive = 5
# Errors go to the process manager's log; requests are counted by the service's metrics instead.
errorlog = "-"
accesslog = None
# supervisor manages the process; gunicorn's own control socket would be shared by all four services.
control_socket_disable = True


# How long a worker waits at start for its threads' database connections (then serves anyway).
WARM_UP_SECONDS = 10


def post_worker_init(worker):
    """Open the database connection of every thread of the worker before it takes a request.

    Django keeps one connection per thread, opened by the thread's first query. A connection costs
    a SCRAM handshake, about twice a placement's own CPU (docs/benchmarks.md): a burst on a worker
    just started paid one per request, and placements waiting for a slot behind them were refused
    (tests/stack/test_admission.py). A task per thread, each holding its thread until all have
    started, so that the pool starts them all."""
    pool = getattr(worker, "tpool", None)
    if pool is None:  # a worker class without a thread pool
        return
    from django.db import connections

    started = threading.Barrier(worker.cfg.threads, timeout=WARM_UP_SECONDS)

    def connect():
        with contextlib.suppress(threading.BrokenBarrierError):  # a thread late: connect anyway
            started.wait()
        for connection in connections.all():
            connection.ensure_connection()

    for task in [pool.submit(connect) for _ in range(worker.cfg.threads)]:
        try:
            task.result(timeout=WARM_UP_SECONDS)
        except Exception as exc:  # a database away at start: the requests connect when it is back
            worker.log.warning("a thread's database connection was not opened at start: %s", exc)
            break


def child_exit(server, worker):
    """Drop a finished worker's live gauges from the service's multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
