"""convokit platform plugin for e-mail over IMAP.

Registers ``platform = "email"``: INBOX and the ``\\Sent`` folder (or the folders you
name), read-only, threaded by ``Message-ID`` / ``In-Reply-To`` / ``References`` across
folders. See ``plugins/convokit-email/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core import hookimpl

from ._adapter import EmailAdapter, Threads, create_adapter
from ._config import EmailConfig
from ._cursor import FolderState, MailCursor
from ._mime import html_to_text

__all__ = [
    "EmailAdapter",
    "EmailConfig",
    "FolderState",
    "MailCursor",
    "Threads",
    "create_adapter",
    "html_to_text",
    "register_platforms",
]


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register the ``email`` platform with its config class and factory."""
    register(
        "email",
        config=EmailConfig,
        create=create_adapter,
        description="E-mail over IMAP: INBOX and the sent folder, threaded by References",
    )
