"""The PostgreSQL schema and its versioned migrations.

Every migration is applied once, in order, in its own transaction, and recorded in the
``convokit_schema`` table (``version``, ``description``, ``applied_at``). Migrating
takes a transaction-level advisory lock first, so several workers opening a fresh
database at the same moment apply each migration exactly once.

Identifier columns are ``text COLLATE "C"`` so that ``ORDER BY`` compares bytes, exactly
like SQLite's ``BINARY`` collation and Python's ``str`` ordering: every backend streams
records in the same order. Timestamps are ``timestamptz`` (microsecond precision, the
same as Python's ``datetime``), read and written in UTC.
"""

from __future__ import annotations

import attrs
import psycopg

__all__ = [
    "MIGRATIONS",
    "MIGRATION_LOCK_KEY",
    "SCHEMA_VERSION",
    "Migration",
    "apply_migrations",
    "current_version",
]


@attrs.frozen(kw_only=True)
class Migration:
    """One schema step: ``version`` is its 1-based position in :data:`MIGRATIONS`."""

    version: int
    description: str
    sql: str


_ID = 'text COLLATE "C"'

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="initial schema",
        sql=f"""
        CREATE TABLE messages (
            platform {_ID} NOT NULL,
            id {_ID} NOT NULL,
            conversation_id {_ID} NOT NULL,
            channel_id {_ID},
            author_id {_ID} NOT NULL,
            direction text NOT NULL,
            sent_at timestamptz NOT NULL,
            in_reply_to {_ID},
            text text NOT NULL,
            visibility text NOT NULL,
            automated boolean NOT NULL,
            tags jsonb,
            url text,
            edited_at timestamptz,
            deleted boolean NOT NULL,
            PRIMARY KEY (platform, id)
        );
        CREATE INDEX messages_by_conversation
            ON messages (platform, conversation_id, sent_at, id);
        CREATE TABLE conversations (
            platform {_ID} NOT NULL,
            id {_ID} NOT NULL,
            channel_id {_ID},
            stakeholder_id {_ID},
            owner_id {_ID},
            status text NOT NULL,
            tags jsonb,
            PRIMARY KEY (platform, id)
        );
        CREATE TABLE status_changes (
            platform {_ID} NOT NULL,
            conversation_id {_ID} NOT NULL,
            at timestamptz NOT NULL,
            status {_ID} NOT NULL,
            PRIMARY KEY (platform, conversation_id, at, status)
        );
        CREATE TABLE stakeholders (
            id {_ID} PRIMARY KEY,
            kind text NOT NULL,
            display_name text,
            identities jsonb NOT NULL
        );
        CREATE TABLE channels (
            platform {_ID} NOT NULL,
            id {_ID} NOT NULL,
            handle text,
            created_at timestamptz,
            owner_team text,
            PRIMARY KEY (platform, id)
        );
        CREATE TABLE team_members (
            id {_ID} PRIMARY KEY,
            name text,
            handles jsonb NOT NULL,
            active_from timestamptz,
            active_until timestamptz
        );
        CREATE TABLE cursors (
            source {_ID} PRIMARY KEY,
            cursor text NOT NULL,
            updated_at timestamptz NOT NULL
        );
        CREATE TABLE sync_runs (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source {_ID} NOT NULL,
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL,
            pages integer NOT NULL,
            records integer NOT NULL,
            ok boolean NOT NULL,
            error text
        );
        CREATE INDEX sync_runs_by_time ON sync_runs (started_at DESC, seq DESC);
        """,
    ),
    Migration(
        version=2,
        description="notification ledger",
        sql=f"""
        CREATE TABLE notifications (
            notifier {_ID} NOT NULL,
            key {_ID} NOT NULL,
            commitment text NOT NULL,
            subject text NOT NULL,
            event text NOT NULL,
            deadline timestamptz,
            recorded_at timestamptz NOT NULL,
            sent boolean NOT NULL,
            PRIMARY KEY (notifier, key)
        );
        """,
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this release of convokit-postgres writes and reads."""

MIGRATION_LOCK_KEY = 0x636F6E766F6B6974  # "convokit" in ASCII, as a bigint
"""Advisory lock key held (transaction-scoped) while migrations run."""

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS convokit_schema (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def current_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The schema version of the database ``conn`` points at (0 when never migrated).

    Looks the version table up through the connection's ``search_path``.
    """
    row = conn.execute("SELECT to_regclass('convokit_schema') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM convokit_schema").fetchone()
    return 0 if found is None else int(str(found[0]))


def apply_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> list[Migration]:
    """Bring the schema up to :data:`SCHEMA_VERSION`; return the migrations applied.

    ``conn`` must be in autocommit mode. Each migration runs in its own transaction
    under :data:`MIGRATION_LOCK_KEY`, so concurrent callers apply it once. Raises
    :class:`ValueError` when the database is newer than this release understands (the
    caller words the error for its user).
    """
    applied: list[Migration] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(_VERSION_TABLE)
            version = current_version(conn)
            if version > SCHEMA_VERSION:
                raise ValueError(
                    f"the database has schema version {version}, newer than this "
                    f"convokit-postgres understands ({SCHEMA_VERSION}); upgrade convokit-postgres"
                )
            if version == SCHEMA_VERSION:
                return applied
            step = MIGRATIONS[version]
            conn.execute(step.sql)
            conn.execute(
                "INSERT INTO convokit_schema (version, description) VALUES (%s, %s)",
                (step.version, step.description),
            )
            applied.append(step)
