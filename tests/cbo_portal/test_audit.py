"""The audit log is append-only, scoped, and written by every service."""

import pytest
from django.db import DatabaseError, connection, transaction

from cbo_portal.choices import AuditAction, Role
from cbo_portal.models import AuditEvent
from cbo_portal.models.audit import AuditImmutableError
from cbo_portal.services import audit, people


def test_entries_cannot_be_edited_or_deleted_through_the_orm(world):
    event = audit.record(actor=world.cbo_admin, action=AuditAction.UPDATE, obj=world.cbo, summary="Edited")
    event.summary = "Tampered"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="Tampered")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).summary == "Edited"


@pytest.mark.postgresql  # the trigger is PostgreSQL's
@pytest.mark.parametrize(
    "sql", ["UPDATE cbo_portal_auditevent SET summary = 'x'", "DELETE FROM cbo_portal_auditevent"]
)
def test_database_refuses_raw_sql_changes(world, sql):
    audit.record(actor=world.cbo_admin, action=AuditAction.UPDATE, obj=world.cbo, summary="Edited")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.filter(summary="Edited").exists()


def test_services_write_who_what_where(world, client):
    client.force_login(world.cbo_admin)
    client.post("/team/", {"email": "new@eastside.org", "role": Role.CBO_STAFF}, REMOTE_ADDR="203.0.113.7")
    event = AuditEvent.objects.get(summary__startswith="Invited new@eastside.org")
    assert (event.actor, event.organization, event.ip_address) == (world.cbo_admin, world.cbo, "203.0.113.7")


def test_admins_see_their_organization_only_and_others_see_none(world):
    mine = audit.record(actor=world.cbo_admin, action=AuditAction.UPDATE, obj=world.cbo, summary="mine")
    theirs = audit.record(
        actor=world.other_cbo_admin, action=AuditAction.UPDATE, obj=world.other_cbo, summary="theirs"
    )
    assert set(AuditEvent.objects.visible_to(world.cbo_admin)) >= {mine}
    assert theirs not in AuditEvent.objects.visible_to(world.cbo_admin)
    assert not AuditEvent.objects.visible_to(world.cbo_staff).exists()
    assert {mine, theirs} <= set(AuditEvent.objects.visible_to(world.platform_admin))


def test_api_audit_log_is_read_only(world, api):
    people.invite(world.cbo, acting_user=world.cbo_admin, email="x@eastside.org", role=Role.CBO_STAFF)
    client = api.as_user(world.cbo_admin)
    rows = client.get("/api/v1/audit-events/").json()["results"]
    assert any(r["summary"].startswith("Invited x@eastside.org") for r in rows)
    event_id = rows[0]["id"]
    assert (
        client.patch(f"/api/v1/audit-events/{event_id}/", {"summary": "x"}, format="json").status_code == 405
    )
    assert client.delete(f"/api/v1/audit-events/{event_id}/").status_code == 405
