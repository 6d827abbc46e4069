"""Every operation of the OpenAPI schema, fed what schemathesis generates from it, as a CBO and
as a plan persona: the API answers with a 2xx, 3xx or 4xx and never a server error.

Bounded (a few examples per operation, no shrinking) so it runs inside ``make test``; each
server error is listed with the request that caused it."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core import NotSet

from tests.referrals.factories import covered_world, referral

EXAMPLES = 4
SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _send(client: Client, case) -> int:
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    method = case.method.lower()
    kwargs: dict = {"QUERY_STRING": urlencode(query, doseq=True)} if query else {}
    path = case.formatted_path
    if isinstance(case.body, NotSet) or method in ("get", "head", "delete", "options"):
        return getattr(client, method)(path, **kwargs).status_code
    if case.media_type and case.media_type.startswith("multipart/"):
        body = {
            k: (json.dumps(v) if isinstance(v, (dict, list)) else "" if v is None else v)
            for k, v in (case.body or {}).items()
        }
        return getattr(client, method)(path, body, **kwargs).status_code
    return getattr(client, method)(
        path, json.dumps(case.body), content_type="application/json", **kwargs
    ).status_code


@pytest.mark.parametrize("persona", ["cbo_admin", "care_coordinator"])
def test_no_operation_answers_with_a_server_error(world, persona):
    covered_world(world)
    referral(world)
    client = Client(raise_request_exception=False)
    client.force_login(getattr(world, persona))
    errors: list[str] = []
    sent = 0

    for operation in OPERATIONS:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def probe(case):
            nonlocal sent
            sent += 1
            status = _send(client, case)
            if status >= 500:
                errors.append(
                    f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"[:400]
                )

        probe()
    assert sent >= len(OPERATIONS)
    assert not errors, f"{len(errors)} server errors of {sent} requests:\n" + "\n".join(errors[:20])
