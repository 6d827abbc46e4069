"""Give every remittance imported before payments had an identity its payment key.

The key is the rule of ``billing.x12.remit835.payment_key`` (framework-free, so it is safe to call
here). Payments that were posted twice before this fix keep their key on the first row only (the
key is unique); the later copies stay as they are, for someone to reverse by hand.
"""

from django.db import migrations


def fill(apps, schema_editor):
    from billing.x12.remit835 import payment_key

    Remittance = apps.get_model("billing", "Remittance")
    seen = set()
    for row in Remittance.objects.filter(payment_key__isnull=True).order_by("pk").iterator():
        key = payment_key(
            payer_id=row.payer_id, originator_id=row.originator_id, payer_name=row.payer_name,
            trace_number=row.trace_number, payment_date=row.payment_date, total_paid=row.total_paid,
        )
        if key in seen or Remittance.objects.filter(payment_key=key).exists():
            continue
        seen.add(key)
        Remittance.objects.filter(pk=row.pk).update(payment_key=key)


def empty(apps, schema_editor):
    apps.get_model("billing", "Remittance").objects.update(payment_key=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_payment_identity_and_answer_kinds")]

    operations = [migrations.RunPython(fill, empty)]
