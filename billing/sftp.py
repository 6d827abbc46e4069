"""SFTP exchange with a plan or clearinghouse (paramiko; framework-free).

Rules:

* Strict host key checking: the server's key must match ``SftpTarget.host_key_fingerprint``
  (OpenSSH ``SHA256:...`` form, as ``ssh-keygen -lf`` prints it) or, when no fingerprint is set, be
  listed in ``known_hosts_path``. An unknown or changed key refuses the connection
  (``SftpHostKeyError``); there is no trust-on-first-use.
* Authentication by private key (PEM/OpenSSH text or a file path) or password; the SSH agent and
  ``~/.ssh`` keys are never consulted, so what is configured is what is used.
* ``upload`` writes to a temporary dot-name in the same directory, checks its size, then renames
  it to the final name, so the plan never picks up half a file. It is idempotent: when the final
  name already holds the same bytes (SHA-256) it returns without sending again; when it holds other
  bytes it raises ``SftpConflictError`` rather than overwrite.
* ``move`` archives a picked-up file; it never overwrites an existing destination.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko


class SftpError(Exception):
    """Base of every SFTP failure this module raises."""


class SftpHostKeyError(SftpError):
    """The server's host key is unknown or does not match the configured fingerprint."""


class SftpConflictError(SftpError):
    """The remote file exists with different content (or the destination of a move exists)."""


@dataclass(frozen=True)
class SftpTarget:
    """Where and how to connect. ``private_key`` is key text or a path to a key file; give it or a
    ``password``. ``inbound_dir`` is where we drop our files for the plan, ``outbound_dir`` where the
    plan leaves 999/277CA/835 files for us."""

    host: str
    username: str
    port: int = 22
    private_key: str | None = None
    private_key_passphrase: str | None = None
    password: str | None = None
    host_key_fingerprint: str | None = None
    known_hosts_path: str | None = None
    inbound_dir: str = "inbound"
    outbound_dir: str = "outbound"
    timeout: float = 30.0

    def __repr__(self) -> str:  # never print secrets
        return f"SftpTarget({self.username}@{self.host}:{self.port})"


@dataclass(frozen=True)
class RemoteFile:
    """A regular file in a remote directory."""

    name: str
    path: str
    size: int
    modified: int


def host_key_fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA-256 fingerprint of a public key: ``SHA256:<base64 without padding>``."""
    import base64

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _FingerprintPolicy(paramiko.MissingHostKeyPolicy):
    def __init__(self, expected: str | None) -> None:
        self.expected = expected

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        got = host_key_fingerprint(key)
        if self.expected is None:
            raise SftpHostKeyError(
                f"unknown host key for {hostname} ({key.get_name()} {got}); configure its fingerprint to trust it"
            )
        if got != self.expected.strip():
            raise SftpHostKeyError(
                f"host key of {hostname} does not match: expected {self.expected}, got {got} — "
                "refusing to connect (the server may have been replaced)"
            )


_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def load_private_key(value: str, passphrase: str | None = None) -> paramiko.PKey:
    """A private key from its text (``-----BEGIN ...``) or from a file path."""
    if "-----BEGIN" not in value:
        return paramiko.PKey.from_path(value, password=passphrase)
    errors = []
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(value), password=passphrase)
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{cls.__name__}: {exc}")
    raise SftpError("cannot read the private key: " + "; ".join(errors))


class SftpSession:
    """An open connection; use ``connect(target)`` as a context manager to do several operations."""

    def __init__(self, target: SftpTarget, client: paramiko.SSHClient, sftp: paramiko.SFTPClient) -> None:
        self.target = target
        self.client = client
        self.sftp = sftp

    # -- reading
    def list_files(self, directory: str | None = None) -> list[RemoteFile]:
        """Regular files of ``directory`` (default: the outbound directory), sorted by name;
        temporary upload names (starting with a dot) are left out."""
        directory = directory or self.target.outbound_dir
        out = []
        for entry in self.sftp.listdir_attr(directory):
            if (
                entry.st_mode is not None
                and stat.S_ISREG(entry.st_mode)
                and not entry.filename.startswith(".")
            ):
                out.append(
                    RemoteFile(
                        entry.filename,
                        posixpath.join(directory, entry.filename),
                        entry.st_size or 0,
                        entry.st_mtime or 0,
                    )
                )
        return sorted(out, key=lambda f: f.name)

    def download(self, remote_path: str) -> bytes:
        """The whole content of a remote file."""
        buffer = io.BytesIO()
        self.sftp.getfo(remote_path, buffer)
        return buffer.getvalue()

    def _sha256(self, remote_path: str) -> str:
        digest = hashlib.sha256()
        with self.sftp.open(remote_path, "rb") as fh:
            fh.prefetch()
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def _exists(self, remote_path: str) -> bool:
        try:
            self.sftp.stat(remote_path)
        except FileNotFoundError:
            return False
        return True

    # -- writing
    def upload(self, data: bytes | str | Path, remote_name: str, directory: str | None = None) -> str:
        """Upload ``data`` (bytes, or a local file path) as ``remote_name`` in ``directory`` (default:
        the inbound directory) via a temporary name and a rename. Returns the remote path. Same name
        with the same SHA-256 already there: returns without sending. Different content: raises
        ``SftpConflictError``."""
        if not remote_name or "/" in remote_name or remote_name.startswith("."):
            raise SftpError(
                f"remote file name {remote_name!r} must be a plain name (no slash, no leading dot)"
            )
        payload = data if isinstance(data, bytes) else Path(data).read_bytes()
        digest = hashlib.sha256(payload).hexdigest()
        directory = directory or self.target.inbound_dir
        final = posixpath.join(directory, remote_name)
        if self._exists(final):
            return self._same_or_conflict(final, digest)
        temp = posixpath.join(directory, f".{remote_name}.{secrets.token_hex(6)}.part")
        try:
            attrs = self.sftp.putfo(io.BytesIO(payload), temp, file_size=len(payload), confirm=True)
            if attrs.st_size != len(payload):
                raise SftpError(
                    f"upload of {remote_name} was cut short ({attrs.st_size} of {len(payload)} bytes)"
                )
            try:
                self.sftp.rename(temp, final)  # plain SFTP rename refuses to overwrite
            except OSError:
                if self._exists(final):  # someone else finished the same upload meanwhile
                    return self._same_or_conflict(final, digest)
                raise
        finally:
            with contextlib.suppress(OSError):
                self.sftp.remove(temp)
        return final

    def _same_or_conflict(self, final: str, digest: str) -> str:
        if self._sha256(final) == digest:
            return final
        raise SftpConflictError(
            f"{final} already exists on the server with different content; refusing to overwrite it "
            "(send the corrected file under a new name)"
        )

    def move(self, src: str, dst: str) -> str:
        """Move ``src`` to ``dst`` (a path, or an existing directory to move it into). Returns the
        new path. Never overwrites: an existing destination raises ``SftpConflictError``."""
        try:
            if stat.S_ISDIR(self.sftp.stat(dst).st_mode or 0):
                dst = posixpath.join(dst, posixpath.basename(src))
        except FileNotFoundError:
            pass
        if self._exists(dst):
            raise SftpConflictError(f"cannot move {src} to {dst}: the destination exists")
        self.sftp.rename(src, dst)
        return dst


@contextlib.contextmanager
def connect(target: SftpTarget) -> Iterator[SftpSession]:
    """Open an SFTP session with strict host key checking (see the module docstring)."""
    client = paramiko.SSHClient()
    if target.host_key_fingerprint is None and target.known_hosts_path:
        client.load_host_keys(target.known_hosts_path)
    client.set_missing_host_key_policy(_FingerprintPolicy(target.host_key_fingerprint))
    pkey = load_private_key(target.private_key, target.private_key_passphrase) if target.private_key else None
    if pkey is None and not target.password:
        raise SftpError("an SFTP target needs a private key or a password")
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.username,
            pkey=pkey,
            password=target.password,
            timeout=target.timeout,
            banner_timeout=target.timeout,
            auth_timeout=target.timeout,
            look_for_keys=False,
            allow_agent=False,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise SftpHostKeyError(f"host key of {target.host} changed: {exc}") from exc
    except SftpHostKeyError:
        client.close()
        raise
    except (paramiko.SSHException, OSError) as exc:
        client.close()
        raise SftpError(f"cannot connect to {target.host}:{target.port}: {exc}") from exc
    try:
        sftp = client.open_sftp()
        try:
            yield SftpSession(target, client, sftp)
        finally:
            sftp.close()
    finally:
        client.close()


def upload(target: SftpTarget, data: bytes | str | Path, remote_name: str) -> str:
    """Upload into the inbound directory (one connection); see ``SftpSession.upload``."""
    with connect(target) as session:
        return session.upload(data, remote_name)


def list_files(target: SftpTarget, directory: str | None = None) -> list[RemoteFile]:
    """Files of ``directory`` (default: outbound); see ``SftpSession.list_files``."""
    with connect(target) as session:
        return session.list_files(directory)


def download(target: SftpTarget, remote_path: str) -> bytes:
    """Content of one remote file."""
    with connect(target) as session:
        return session.download(remote_path)


def move(target: SftpTarget, src: str, dst: str) -> str:
    """Move/archive one remote file; see ``SftpSession.move``."""
    with connect(target) as session:
        return session.move(src, dst)
