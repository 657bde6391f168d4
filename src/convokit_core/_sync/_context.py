"""What an adapter knows about the source it syncs (DESIGN §7)."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["SyncContext", "normalize_handle"]


def normalize_handle(handle: str) -> str:
    """A handle in comparable form: no surrounding space, no leading ``@``, case-folded.

    ``"@Ana@Example.Social"`` and ``"ana@example.social"`` compare equal.
    """
    return handle.strip().removeprefix("@").casefold()


def _handles(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        raise TypeError(f"expected a collection of handles, got the string {values!r}")
    return frozenset(n for n in (normalize_handle(v) for v in values) if n)


@attrs.frozen(kw_only=True)
class SyncContext:
    """Handed to an adapter's factory with the source it syncs.

    Attributes:
        source: the ``name`` of the ``[[source]]`` table.
        platform: the ``platform`` of that table.
        team_handles: the handles ``[[team]]`` members have on this platform (normalised
            with :func:`normalize_handle`).
        own_handles: our own accounts on this platform that the adapter added with
            :meth:`with_own_handles` (e.g. the account the source syncs).

    Adapters mark a message ``outbound`` when :meth:`is_ours` is true for its author's
    handle, else ``inbound``.
    """

    source: str
    platform: str
    team_handles: frozenset[str] = attrs.field(default=frozenset(), converter=_handles)
    own_handles: frozenset[str] = attrs.field(default=frozenset(), converter=_handles)

    def is_ours(self, handle: str | None) -> bool:
        """Whether ``handle`` is one of our accounts or a team member's handle.

        Case-insensitive; a leading ``@`` is ignored. ``None`` or ``""`` is never ours.
        """
        if not handle:
            return False
        key = normalize_handle(handle)
        return key in self.team_handles or key in self.own_handles

    def with_own_handles(self, *handles: str) -> SyncContext:
        """A copy that also counts ``handles`` (our channel accounts) as ours."""
        return attrs.evolve(self, own_handles=self.own_handles | _handles(handles))
