"""A throwaway Dovecot IMAP server on loopback for the e-mail adapter's tests.

Dovecot (Debian: ``apt-get install -y dovecot-imapd``) is started with its own
configuration, ``base_dir``, logs and maildirs in a temporary directory, on free
loopback ports: a plain IMAP port (which offers STARTTLS) and an implicit-TLS port,
with a self-signed certificate made by ``openssl``. Mail access runs as an unprivileged
user (``nobody`` when the tests run as root: Dovecot refuses root). Any user name logs
in with :data:`PASSWORD`, and every user has a fresh maildir, so each test takes a user
of its own. Mail is delivered with IMAP ``APPEND``, never written into the maildir.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from convokit_email import EmailConfig

PASSWORD = "dovecot-test-password-7f3a"
OURS = "support@acme.example"
"""Our support address in the test mailboxes."""
INSTALL_HINT = "Dovecot is not installed: apt-get install -y dovecot-imapd"


def dovecot_binary() -> str | None:
    """The ``dovecot`` executable, or ``None``."""
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )


def require_dovecot() -> str:
    """The ``dovecot`` binary; skip the test without it, fail when ``CI`` is set."""
    binary = dovecot_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"{INSTALL_HINT} (CI is set, so this is a failure, not a skip)")
        pytest.skip(INSTALL_HINT)
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is missing: apt-get install -y openssl")
        pytest.skip("openssl is missing: apt-get install -y openssl")
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """A running test server. Use :func:`start_dovecot`."""

    def __init__(self, root: Path, port: int, tls_port: int, cert: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = port
        self.tls_port = tls_port
        self.cert = cert
        """The self-signed certificate (for ``SSL_CERT_FILE``)."""
        self.config = root / "dovecot.conf"
        self._users = 0

    def new_user(self, prefix: str = "user") -> str:
        """A user name nobody has used yet on this server (a fresh, empty mailbox)."""
        self._users += 1
        return f"{prefix}{self._users}@acme.example"

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in read-write IMAP session (for planting mail)."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            conn.login(user, PASSWORD)
            yield conn
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()

    def append(self, user: str, folder: str, raw: bytes, flags: str = "") -> None:
        """Deliver ``raw`` into ``folder`` with IMAP APPEND."""
        with self.client(user) as conn:
            typ, _ = conn.append(_quote(folder), flags or None, None, raw)
            assert typ == "OK", f"APPEND to {folder} failed"

    def log(self) -> str:
        """The server's log so far (for failure messages)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unprivileged() -> tuple[str, str, int, int]:
    """(login user, mail user, uid, gid) for the server's processes."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    login = "dovenull"
    try:
        pwd.getpwnam(login)
    except KeyError:
        login = "nobody"
    nobody = pwd.getpwnam("nobody")
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        gid = nobody.pw_gid
    return login, "nobody", nobody.pw_uid, gid


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@contextlib.contextmanager
def start_dovecot() -> Iterator[Dovecot]:
    """Start a throwaway Dovecot; stop it and remove its files on exit."""
    binary = require_dovecot()
    root = Path(tempfile.mkdtemp(prefix="convokit-dovecot-"))
    root.chmod(0o755)
    login, mail_user, uid, gid = _unprivileged()
    (root / "home").mkdir()
    os.chown(root / "home", uid, gid)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (root / "key.pem").chmod(0o644)
    internal_group = grp.getgrgid(pwd.getpwnam(mail_user).pw_gid).gr_name
    server: Dovecot | None = None
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port, tls_port = _free_port(), _free_port()
        config = _CONFIG.format(
            root=root,
            internal=mail_user,
            internal_group=internal_group,
            login=login,
            uid=uid,
            gid=gid,
            password=PASSWORD,
            port=port,
            tls_port=tls_port,
        )
        (root / "dovecot.conf").write_text(config)
        # Without -F the master binds its listeners, then daemonizes: when this returns
        # the ports accept connections.
        # Its output goes to a file: a pipe would stay open in the daemon.
        with open(root / "start.err", "w+b") as err:
            done = subprocess.run(
                [binary, "-c", str(root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                check=False,
            )
            err.seek(0)
            problem = err.read().decode(errors="replace").strip()
        if done.returncode == 0:
            server = Dovecot(root, port, tls_port, root / "cert.pem")
            break
    if server is None:
        log = (
            (root / "dovecot.log").read_text(errors="replace")
            if (root / "dovecot.log").exists()
            else ""
        )
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"Dovecot did not start: {problem} {log[-2000:]}")
    try:
        yield server
    finally:
        subprocess.run(
            [binary, "-c", str(root / "dovecot.conf"), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def mail(*headers: str, body: str = "Hello.", ctype: str = "text/plain; charset=utf-8") -> bytes:
    """A small RFC 5322 mail with ``headers`` and a one-part body."""
    head = "\r\n".join(headers)
    return (f"{head}\r\nMIME-Version: 1.0\r\nContent-Type: {ctype}\r\n\r\n{body}\r\n").encode()


def config(server: Dovecot, user: str, **extra: object) -> EmailConfig:
    """An :class:`EmailConfig` for ``user`` on ``server`` (plain IMAP on loopback)."""
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": user,
        "password": PASSWORD,
        "addresses": [OURS, "help@acme.example"],
    }
    values.update(extra)
    return EmailConfig(**values)  # type: ignore[arg-type]
