"""How files travel to and from a plan (PlanChannel) over SFTP (``billing.sftp``).

Rules: the host key is pinned (the channel stores it as a ``SHA256:`` fingerprint, a
known_hosts line or a base64 key); the private key is read from ``private_key_path`` (a mounted
secret), never from the database. Uploads are idempotent by name and SHA-256. Picked-up 999 and
835 files are handed to the acknowledgement and remittance importers, then moved to the
channel's archive folder; a file whose import fails stays where it is (and is retried next run).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field

import paramiko

from billing import sftp
from billing.choices import DeliveryMethod
from billing.models import PlanChannel

log = logging.getLogger(__name__)


def fingerprint(host_key: str) -> str | None:
    """``SHA256:...`` from a stored fingerprint, known_hosts line (``host type base64``),
    ``type base64`` or bare base64 key."""
    text = (host_key or "").strip()
    if not text:
        return None
    if text.startswith("SHA256:"):
        return text
    parts = text.split()
    blob = parts[-1] if len(parts) < 3 else parts[2]
    if len(parts) >= 2 and parts[-2].startswith(("ssh-", "ecdsa-")):
        blob = parts[-1]
    key_type = next((p for p in parts if p.startswith(("ssh-", "ecdsa-"))), None)
    raw = base64.b64decode(blob)
    if key_type is None:
        key_type = raw[4 : 4 + int.from_bytes(raw[:4], "big")].decode()
    return sftp.host_key_fingerprint(paramiko.PKey.from_type_string(key_type, raw))


def target(channel: PlanChannel) -> sftp.SftpTarget:
    """The SFTP target of a channel (strict host key, key from the mounted path)."""
    if channel.method != DeliveryMethod.SFTP:
        raise ValueError(f"{channel.plan} takes files by download, not SFTP")
    return sftp.SftpTarget(
        host=channel.host, port=channel.port, username=channel.username,
        private_key=channel.private_key_path or None, host_key_fingerprint=fingerprint(channel.host_key),
        inbound_dir=channel.inbound_dir or "inbound", outbound_dir=channel.outbound_dir or "outbound",
    )  # fmt: skip


def upload(channel: PlanChannel, data: bytes, name: str) -> str:
    """Upload a batch file to the plan's inbound folder; returns the remote path."""
    return sftp.upload(target(channel), data, name)


def kind_of(data: bytes) -> str | None:
    """ "999", "835" (or None) from the file's GS01 / ST01."""
    head = data[:4000].decode("latin-1", errors="replace")
    if not head.startswith("ISA") or len(head) < 106:
        return None
    sep, term = head[3], head[105]
    for seg in head.split(term):
        parts = seg.strip().split(sep)
        if parts[0] == "ST" and len(parts) > 1:
            return parts[1] if parts[1] in ("999", "835") else None
    return None


@dataclass
class Pickup:
    imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def pick_up(channel: PlanChannel, *, import_ack=None, import_remittance=None) -> Pickup:  # noqa: ANN001
    """Fetch every file from the plan's outbound folder, import it (999 or 835) and archive it."""
    if import_ack is None:
        from billing.services.acks import import_ack
    if import_remittance is None:
        from billing.services.remittances import import_remittance
    result = Pickup()
    t = target(channel)
    with sftp.connect(t) as session:
        for remote in session.list_files():
            data = session.download(remote.path)
            kind = kind_of(data)
            importer = {"999": import_ack, "835": import_remittance}.get(kind or "")
            if importer is None:
                result.skipped.append(remote.name)
                continue
            try:
                importer(data, file_name=remote.name, acting_user=None)
            except Exception as exc:  # noqa: BLE001 - leave the file for the next run, report why
                log.warning("import of %s from %s failed: %s", remote.name, channel.plan, exc)
                result.failed.append(f"{remote.name}: {exc}")
                continue
            if channel.archive_dir:
                session.move(remote.path, channel.archive_dir)
            result.imported.append(remote.name)
    return result
