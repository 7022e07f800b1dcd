"""Server-side prepared statements for the hot paths' hand-written SQL.

PostgreSQL parses and plans every statement psycopg2 sends as text, and for the multi-row
statements of the hot paths that is half of the server's work: the placement statement cost the
server 0.68 ms of CPU each time as text and 0.33 ms prepared (1,000 runs on one connection).
psycopg2 has no prepared statements of its own (psycopg 3 has; the stack keeps psycopg2), so a
Statement prepares itself once per database connection (`PREPARE name AS ...`, sent with its
first `EXECUTE` in one round trip) and is executed by name from then on. A prepared statement
outlives a rolled-back transaction and dies with its connection; a new connection prepares
afresh. (Behind a pooler in transaction mode, which hands a session's statements to other
connections, these would have to go: the stack uses none.)

    PLACE = Statement("orders_place", "INSERT ... VALUES (%s::uuid, %s, ...)")
    with connection.cursor() as cursor:
        PLACE.execute(cursor, [order_id, customer_id, ...])
        row = cursor.fetchone()

The SQL takes psycopg2's %s placeholders; a placeholder's cast (`%s::text[]`) is kept on both
sides, so arrays and literals reach the prepared statement with the types it was prepared for.
"""

import re
import threading
import weakref

_PLACEHOLDER = re.compile(r"%s((?:::[a-z_ ]+(?:\[\])?)?)")

# Per psycopg2 connection (gone with it): each statement's state there, prepared or unknown.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class Statement:
    def __init__(self, name: str, sql: str):
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"statement name {name!r}: lower-case letters, digits and _ only")
        if "%%" in sql or re.search(r"%(?!s)", sql):
            raise ValueError(f"{name}: the SQL may hold no % but its %s placeholders")
        self.name = name
        self.sql = sql
        casts = []

        def numbered(match):
            casts.append(match.group(1))
            return f"${len(casts)}{match.group(1)}"

        body = _PLACEHOLDER.sub(numbered, sql)
        self._execute = f"EXECUTE {name}" + (f"({', '.join('%s' + cast for cast in casts)})" if casts else "")
        self._prepare_and_execute = f"PREPARE {name} AS {body}; {self._execute}"
        self.parameters = len(casts)

    def execute(self, cursor, params=()) -> None:
        """Run the statement on `cursor` (Django's or psycopg2's); read its rows from the cursor."""
        if len(params) != self.parameters:
            raise TypeError(f"{self.name} takes {self.parameters} parameters, not {len(params)}")
        raw = _raw_connection(cursor)
        with _lock:
            states = _prepared.setdefault(raw, {})
            state = states.get(self.name)
        if state is _UNKNOWN:
            # Its first run failed: the PREPARE may have taken effect (it outlives the failure) or not.
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [self.name])
            state = _PREPARED if cursor.fetchone()[0] else None
        try:
            cursor.execute(self._execute if state is _PREPARED else self._prepare_and_execute, params)
        except Exception:
            if state is not _PREPARED:
                with _lock:
                    states[self.name] = _UNKNOWN
            raise
        if state is not _PREPARED:
            with _lock:
                states[self.name] = _PREPARED


_PREPARED, _UNKNOWN = "prepared", "unknown"


def _raw_connection(cursor):
    """The psycopg2 connection under a Django or psycopg2 cursor."""
    inner = getattr(cursor, "cursor", cursor)  # Django's CursorWrapper holds psycopg2's cursor
    return inner.connection
