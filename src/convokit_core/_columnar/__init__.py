"""The columnar evaluation engine (issue 14): whole conversations in Arrow record
batches, rules evaluated with numpy over every turn of a batch at once.

Every finding equals the ``python`` engine's, field for field and in the same order;
what the engine does not cover it refuses (``unsupported``), so ``auto`` falls back to
the reference engine.
"""

from __future__ import annotations
