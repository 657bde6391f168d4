"""convokit-twcs: import the "Customer Support on Twitter" corpus (``twcs.csv``).

``convokit import twcs.csv --format twcs`` reads the corpus as its authors published it:

- every tweet is a message; ``inbound = False`` marks a brand's tweet (outbound), every
  other tweet is a customer's (inbound);
- the brand accounts (the authors of outbound tweets) are our channels: a brand's own
  tweets are on its channel, and a customer's tweet is on the channel of the first brand
  it @-mentions;
- customers become stakeholders of kind ``customer``;
- conversations come from reply chains (``in_response_to_tweet_id``), as the core derives
  them: the root tweet of a chain names its conversation;
- malformed rows (the corpus has some: a missing field shifts the next line) are
  reported with their line numbers while the good rows are kept.

The file is read twice (brands first, then the tweets), so memory holds the set of
brands and customers, never the tweets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from importlib.resources import as_file, files
from typing import Any

from convokit_core import (
    ColumnMapping,
    ConfigError,
    ImportSource,
    InvalidRecord,
    hookimpl,
    load_mapping,
    read_csv,
)

__all__ = ["read_twcs", "register_importers"]

_MENTION = re.compile(r"@(\w+)")


def _mapping() -> ColumnMapping:
    with as_file(files(__package__) / "mapping.toml") as path:
        return load_mapping(path)


def read_twcs(source: ImportSource) -> Iterator[tuple[int, Any]]:
    """Interchange records from ``twcs.csv``, as ``(line, record)`` pairs."""
    if source.options:
        unknown = sorted(source.options)[0]
        raise ConfigError(f"--format twcs takes no option, found {unknown!r}")
    source.require_path("a twcs.csv file")  # read twice: standard input will not do
    mapping = _mapping()
    brands: set[str] = set()
    with source.open_text(newline="") as stream:
        for _line, record in read_csv(stream, mapping, source=source.name):
            if isinstance(record, dict) and record.get("direction") == "outbound":
                brands.add(str(record["author"]))
    for brand in sorted(brands):
        yield 1, {"type": "channel", "id": brand, "platform": "twitter", "handle": brand}
    customers: set[str] = set()
    lower = {b.lower(): b for b in brands}
    with source.open_text(newline="") as stream:
        for line, record in read_csv(stream, mapping, source=source.name):
            if isinstance(record, InvalidRecord) or not isinstance(record, dict):
                yield line, record
                continue
            author = str(record["author"])
            if record.get("direction") == "outbound":
                record["channel"] = author
            else:
                channel = _brand_mentioned(str(record.get("text") or ""), lower)
                if channel is not None:
                    record["channel"] = channel
                if author not in customers:
                    customers.add(author)
                    yield (
                        line,
                        {
                            "type": "stakeholder",
                            "id": author,
                            "kind": "customer",
                            "identities": {"twitter": author},
                        },
                    )
            yield line, record


def _brand_mentioned(text: str, brands: dict[str, str]) -> str | None:
    for handle in _MENTION.findall(text):
        brand = brands.get(handle.lower())
        if brand is not None:
            return brand
    return None


@hookimpl
def register_importers(register: Callable[..., None]) -> None:
    register(
        "twcs",
        read_twcs,
        description="the 'Customer Support on Twitter' corpus (twcs.csv); bad rows skipped",
        lenient=True,
    )
