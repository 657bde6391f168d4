"""The sync engine: runs platform adapters and writes their pages to a store (DESIGN §7)."""

from ._context import SyncContext, normalize_handle

__all__ = ["SyncContext", "normalize_handle"]
