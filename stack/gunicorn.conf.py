"""gunicorn settings for each service's web process; the process environment sets port and size."""

import os

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


def child_exit(server, worker):
    """Drop a finished worker's live gauges from the service's multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
