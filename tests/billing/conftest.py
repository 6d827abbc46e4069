"""A real OpenSSH server on 127.0.0.1 for the SFTP tests (session-scoped).

Host and client keys are generated into a temporary directory, sshd runs in the foreground
(``-D -e``) with its own config: key authentication only, internal-sftp, no PAM, strict modes off.
As root, sshd needs its privilege separation directory ``/run/sshd``; we create it when missing.
"""

from __future__ import annotations

import base64
import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    username: str
    client_key_path: Path
    client_key_text: str
    host_key_fingerprint: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    if not os.path.exists(SSHD):
        pytest.fail(
            "OpenSSH server is not installed (apt-get install -y openssh-server; `make test` does it)"
        )
    from billing.sftp import host_key_fingerprint

    base = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "host_key")], check=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "client_key")], check=True
    )
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    os.chmod(base / "authorized_keys", 0o600)
    root = base / "remote"
    (root / "inbound").mkdir(parents=True)
    (root / "outbound").mkdir()
    (root / "archive").mkdir()
    port = _free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\n"
        f"PidFile {base / 'sshd.pid'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
        "LogLevel ERROR\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = open(base / "sshd.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited: {(base / 'sshd.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"sshd did not answer on port {port}: {(base / 'sshd.log').read_text()}")
                time.sleep(0.05)
        key_type, blob = (base / "host_key.pub").read_text().split()[:2]
        host_pub = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
        yield SshServer(
            host="127.0.0.1",
            port=port,
            username=getpass.getuser(),
            client_key_path=base / "client_key",
            client_key_text=(base / "client_key").read_text(),
            host_key_fingerprint=host_key_fingerprint(host_pub),
            root=root,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
