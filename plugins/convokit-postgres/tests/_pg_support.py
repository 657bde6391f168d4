"""URL helpers shared by the PostgreSQL tests."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit


def with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_params(url: str, **params: str) -> str:
    """``url`` with query parameters added (or replaced)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def with_schema(url: str, schema: str) -> str:
    """``url`` whose sessions put ``schema`` first on the ``search_path``."""
    return with_params(url, options=f"-csearch_path={schema}")
