"""Fixtures for tests against a real PostgreSQL server.

The server is reached through an administrative URL, by default
``postgresql://postgres@127.0.0.1:5432/postgres`` (override it with
``CONVOKIT_TEST_POSTGRES_URL``). The session creates a database
``convokit_test_<random>`` and drops it at the end; each test gets a schema of its own in
that database (selected through ``search_path``), so every test starts from an empty
store. Without a reachable server every test here is skipped with a message saying so,
unless ``CONVOKIT_REQUIRE_POSTGRES=1`` (set it in CI), which turns the skip into an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from _pg_support import with_database, with_schema
from psycopg import sql

from convokit_core._storage._common import redact_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def admin_url() -> str:
    return os.environ.get("CONVOKIT_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The administrative URL, after checking that the server answers."""
    url = admin_url()
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        message = (
            f"PostgreSQL is not reachable at {redact_url(url)} ({str(exc).strip()}); "
            f"start it with `{START_HINT}` or point CONVOKIT_TEST_POSTGRES_URL at a server"
        )
        if os.environ.get("CONVOKIT_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (CONVOKIT_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def pg_database(pg_admin_url: str) -> Iterator[str]:
    """URL of a database created for this test session and dropped after it."""
    name = f"convokit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def new_pg_schema(pg_database: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty schemas in the session database, dropped after the test."""
    created: list[str] = []

    def make() -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        created.append(schema)
        return schema

    yield make
    if not created:
        return
    with psycopg.connect(pg_database, autocommit=True) as conn:
        # A failed test may leave a store's reading session open; do not wait on it.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = 'convokit'"
        )
        for schema in created:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pg_schema(new_pg_schema: Callable[[], str]) -> str:
    """A fresh, empty schema in the session database (dropped after the test)."""
    return new_pg_schema()


@pytest.fixture
def pg_url(pg_database: str, pg_schema: str) -> str:
    """A store URL whose tables live in this test's own schema."""
    return with_schema(pg_database, pg_schema)


@pytest.fixture
def pg_admin(pg_database: str, pg_schema: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to the test's schema, to look behind the store's back."""
    with psycopg.connect(with_schema(pg_database, pg_schema), autocommit=True) as conn:
        yield conn
