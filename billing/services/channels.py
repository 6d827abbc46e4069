"""How files travel to and from a plan (PlanChannel) over SFTP (``billing.sftp``).

Rules: the host key is pinned (the channel stores it as a ``SHA256:`` fingerprint, a
known_hosts line or a base64 key); the private key is read from ``private_key_path`` (a mounted
secret), never from the database. Uploads are idempotent by name and SHA-256. Picked-up 835,
999, 277CA and TA1 files are handed to the remittance and acknowledgement importers, then moved to
the channel's archive folder. Nothing is skipped silently: a file that is none of these, or whose
import fails, stays where it is (retried next run) and is recorded as an ``UnreadFile`` with the
reason, which billing coordinators see.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass, field

import paramiko

from billing import sftp
from billing.choices import DeliveryMethod
from billing.models import PlanChannel, UnreadFile

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
        host=channel.host,
        port=channel.port,
        username=channel.username,
        private_key=channel.private_key_path or None,
        host_key_fingerprint=fingerprint(channel.host_key),
        inbound_dir=channel.inbound_dir or "inbound",
        outbound_dir=channel.outbound_dir or "outbound",
    )


def upload(channel: PlanChannel, data: bytes, name: str) -> str:
    """Upload a batch file to the plan's inbound folder; returns the remote path."""
    return sftp.upload(target(channel), data, name)


def kind_of(data: bytes) -> str | None:
    """ "835", "999", "277CA", "TA1" (or None) from what the file is (``answer_kind``)."""
    from billing.x12.common import answer_kind

    return answer_kind(data[:20000].decode("latin-1", errors="replace"))


@dataclass
class Pickup:
    imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # never filled any more: unreadable files are recorded


def record_unread(channel: PlanChannel, name: str, data: bytes, reason: str) -> UnreadFile:
    """Record (or refresh) a file the pickup could not import, with why."""
    digest = hashlib.sha256(data).hexdigest()
    row, created = UnreadFile.objects.get_or_create(
        plan=channel.plan, file_name=name[:200], sha256=digest, defaults={"size": len(data), "reason": reason}
    )
    if not created:
        row.reason = reason
        row.save(update_fields=["reason", "last_seen_at"])
    return row


def pick_up(channel: PlanChannel, *, import_ack=None, import_remittance=None) -> Pickup:
    """Fetch every file from the plan's outbound folder, import it (835, 999, 277CA or TA1) and
    archive it; a file it cannot read is recorded and left in place."""
    if import_ack is None:
        from billing.services.acks import import_ack
    if import_remittance is None:
        from billing.services.remittances import import_remittance
    result = Pickup()
    t = target(channel)
    importers = {"999": import_ack, "277CA": import_ack, "TA1": import_ack, "835": import_remittance}
    with sftp.connect(t) as session:
        for remote in session.list_files():
            data = session.download(remote.path)
            kind = kind_of(data)
            importer = importers.get(kind or "")
            if importer is None:
                reason = (
                    "not an 835, 999, 277CA or TA1 file (no X12 interchange of those kinds); left in place"
                )
                record_unread(channel, remote.name, data, reason)
                result.failed.append(f"{remote.name}: {reason}")
                continue
            try:
                importer(data, file_name=remote.name, acting_user=None)
            except Exception as exc:
                log.warning("import of %s from %s failed: %s", remote.name, channel.plan, exc)
                message = " ".join(exc.messages) if hasattr(exc, "messages") else str(exc)
                record_unread(channel, remote.name, data, f"{kind} not imported: {message}"[:2000])
                result.failed.append(f"{remote.name}: {message}")
                continue
            UnreadFile.objects.filter(plan=channel.plan, file_name=remote.name[:200]).delete()
            if channel.archive_dir:
                session.move(remote.path, channel.archive_dir)
            result.imported.append(remote.name)
    return result
