"""Graceful stop for long-running commands: SIGTERM or SIGINT sets an event the loop watches."""

import logging
import signal
import threading

logger = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum, frame):
        logger.info("%s received: finishing the current batch, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
