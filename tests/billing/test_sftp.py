"""SFTP against a real OpenSSH server: round trip, idempotent re-upload, refusing a changed file,
refusing unknown host keys."""

from __future__ import annotations

import hashlib

import pytest

from billing import sftp
from billing.sftp import SftpConflictError, SftpHostKeyError, SftpTarget

pytestmark = pytest.mark.usefixtures("sshd_server")


@pytest.fixture
def target(sshd_server, tmp_path) -> SftpTarget:
    # a fresh pair of folders per test, inside the server's temporary root
    inbound = tmp_path / "in"
    outbound = tmp_path / "out"
    inbound.mkdir()
    outbound.mkdir()
    return SftpTarget(
        host=sshd_server.host,
        port=sshd_server.port,
        username=sshd_server.username,
        private_key=sshd_server.client_key_text,
        host_key_fingerprint=sshd_server.host_key_fingerprint,
        inbound_dir=str(inbound),
        outbound_dir=str(outbound),
        timeout=10,
    )


def test_round_trip_upload_list_download_and_archive(target, tmp_path):
    body = b"ISA*00*...~" * 1000
    path = sftp.upload(target, body, "batch-0001.837")
    assert path == f"{target.inbound_dir}/batch-0001.837"
    assert (tmp_path / "in" / "batch-0001.837").read_bytes() == body
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["batch-0001.837"]  # no temp file left behind

    (tmp_path / "out" / "remit-1.835").write_bytes(b"835 content")
    (tmp_path / "out" / ".partial.835.part").write_bytes(b"half")
    (tmp_path / "out" / "archive").mkdir()
    files = sftp.list_files(target)
    assert [(f.name, f.size) for f in files] == [("remit-1.835", 11)]
    assert sftp.download(target, files[0].path) == b"835 content"
    moved = sftp.move(target, files[0].path, f"{target.outbound_dir}/archive")
    assert moved == f"{target.outbound_dir}/archive/remit-1.835"
    assert (tmp_path / "out" / "archive" / "remit-1.835").exists()
    assert not (tmp_path / "out" / "remit-1.835").exists()


def test_upload_from_a_local_path_with_a_key_file(target, sshd_server, tmp_path):
    local = tmp_path / "local.837"
    local.write_bytes(b"hello")
    by_path = SftpTarget(**{**target.__dict__, "private_key": str(sshd_server.client_key_path)})
    assert sftp.upload(by_path, local, "x.837").endswith("/x.837")


def test_reupload_of_the_same_file_is_a_no_op(target, tmp_path):
    sftp.upload(target, b"same bytes", "b.837")
    before = (tmp_path / "in" / "b.837").stat().st_mtime_ns
    assert sftp.upload(target, b"same bytes", "b.837") == f"{target.inbound_dir}/b.837"
    assert (tmp_path / "in" / "b.837").stat().st_mtime_ns == before
    assert (
        hashlib.sha256((tmp_path / "in" / "b.837").read_bytes()).hexdigest()
        == hashlib.sha256(b"same bytes").hexdigest()
    )


def test_changed_content_under_the_same_name_is_refused(target, tmp_path):
    sftp.upload(target, b"version one", "c.837")
    with pytest.raises(SftpConflictError, match="different content"):
        sftp.upload(target, b"version two", "c.837")
    assert (tmp_path / "in" / "c.837").read_bytes() == b"version one"
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["c.837"]


def test_move_never_overwrites(target, tmp_path):
    (tmp_path / "out" / "a").write_bytes(b"1")
    (tmp_path / "out" / "b").write_bytes(b"2")
    with pytest.raises(SftpConflictError):
        sftp.move(target, f"{target.outbound_dir}/a", f"{target.outbound_dir}/b")
    assert (tmp_path / "out" / "b").read_bytes() == b"2"


def test_unknown_host_key_is_refused(target, tmp_path):
    unconfigured = SftpTarget(**{**target.__dict__, "host_key_fingerprint": None})
    with pytest.raises(SftpHostKeyError, match="unknown host key"):
        sftp.upload(unconfigured, b"x", "d.837")
    wrong = SftpTarget(**{**target.__dict__, "host_key_fingerprint": "SHA256:" + "A" * 43})
    with pytest.raises(SftpHostKeyError, match="does not match"):
        sftp.list_files(wrong)
    assert not (tmp_path / "in" / "d.837").exists()


def test_known_hosts_file_is_honoured(target, sshd_server, tmp_path):
    import paramiko

    with sftp.connect(target) as session:
        server_key = session.client.get_transport().get_remote_server_key()
    known = tmp_path / "known_hosts"
    known.write_text(
        f"[{sshd_server.host}]:{sshd_server.port} {server_key.get_name()} {server_key.get_base64()}\n"
    )
    via_known_hosts = SftpTarget(
        **{**target.__dict__, "host_key_fingerprint": None, "known_hosts_path": str(known)}
    )
    assert sftp.list_files(via_known_hosts) == []
    assert isinstance(server_key, paramiko.PKey)
