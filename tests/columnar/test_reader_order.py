"""The conversations stream is merged with the message stream by position, so its
order (read without an ORDER BY, which would sort the whole result first) is checked
as it arrives."""

from __future__ import annotations

import pytest

from convokit_core._columnar._reader import _in_order


def test_conversations_in_store_order_pass_through() -> None:
    batches = [[["a", "a"], ["1", "2"]], [["a", "b"], ["3", "1"]]]
    assert list(_in_order(iter(batches))) == batches


@pytest.mark.parametrize(
    "batches",
    [
        [[["a", "a"], ["2", "1"]]],  # inside a batch
        [[["a"], ["2"]], [["a"], ["2"]]],  # across batches, repeated
        [[["b"], ["1"]], [["a"], ["9"]]],  # across batches, platform first
    ],
)
def test_conversations_out_of_order_are_refused(batches: list[list[list[str]]]) -> None:
    with pytest.raises(RuntimeError, match="out of primary-key order"):
        list(_in_order(iter(batches)))
