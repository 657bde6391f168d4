"""The e-mail cursor: per folder, its UIDVALIDITY and the last UID delivered."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

import attrs

from convokit_core import MalformedPayload

__all__ = ["FolderState", "MailCursor"]

_VERSION = 1


@attrs.frozen(kw_only=True)
class FolderState:
    """Where one folder's sync stands: every UID up to ``last_uid`` under
    ``uidvalidity`` has been delivered."""

    uidvalidity: int
    last_uid: int


@attrs.frozen(kw_only=True)
class MailCursor:
    """The whole cursor: a :class:`FolderState` per folder (by its IMAP name)."""

    folders: Mapping[str, FolderState] = attrs.field(factory=dict)

    def state(self, folder: str) -> FolderState | None:
        """The state of ``folder``, or ``None`` if it was never read."""
        return self.folders.get(folder)

    def with_folder(self, folder: str, state: FolderState) -> MailCursor:
        """A copy with ``folder`` at ``state``."""
        return MailCursor(folders={**self.folders, folder: state})

    def encode(self) -> str:
        """The cursor as an opaque string (base64 of a small versioned JSON)."""
        doc = {
            "v": _VERSION,
            "folders": {
                name: [s.uidvalidity, s.last_uid] for name, s in sorted(self.folders.items())
            },
        }
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def decode(cls, cursor: str | None) -> MailCursor:
        """Read a cursor written by :meth:`encode`; ``None`` is the start.

        Anything else raises :class:`~convokit_core.MalformedPayload`: a cursor that
        does not decode never silently restarts the sync.
        """
        if cursor is None:
            return cls()
        try:
            doc = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8"))
        except (binascii.Error, UnicodeError, ValueError):
            raise MalformedPayload("not an e-mail cursor (it does not decode)") from None
        if not isinstance(doc, dict) or doc.get("v") != _VERSION:
            raise MalformedPayload("not an e-mail cursor (unknown version)")
        folders = doc.get("folders")
        if not isinstance(folders, dict):
            raise MalformedPayload("e-mail cursor: 'folders' must be an object")
        out: dict[str, FolderState] = {}
        for name, value in folders.items():
            if (
                not isinstance(name, str)
                or not name
                or not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or value[0] < 1
                or value[1] < 0
            ):
                raise MalformedPayload(
                    "e-mail cursor: every folder needs [UIDVALIDITY >= 1, last UID >= 0]"
                )
            out[name] = FolderState(uidvalidity=value[0], last_uid=value[1])
        return cls(folders=out)
