"""Django's PostgreSQL backend (psycopg2), with a connection health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a kept connection before its first use in each request
with a `SELECT 1`: a round trip per request, on every request. This check looks at the idle
connection's socket instead: when PostgreSQL ends a connection (a restart, a failover, an
administrator's pg_terminate_backend) it says so on the socket, which becomes readable while
nothing was asked; only then is Django's own query made (and the connection replaced if it
fails). A connection cut without a word (a network partition) passes, its first statement fails,
the request gets the 503 it can retry, and Django closes it at the request's end.
"""

import select

import psycopg2
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError, psycopg2.InterfaceError):  # closed, or no socket at all
            return False
        return not readable or super().is_usable()
