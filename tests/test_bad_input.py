"""Bad input is a 400 (or a form error) in words, never a 500, and it changes nothing.

A corpus: every page of the site that takes no arguments (found by walking the URL resolver, so a
new page is covered the day it is added), as each kind of signed-in user (a CBO's admin, a plan's
care coordinator, a CBO's billing coordinator), gets NUL bytes and control characters in its
query string and form fields, ids that are not numbers, huge and negative page numbers and junk in
every filter the views read; every API list endpoint gets the same plus JSON nested too deep, too
large, or holding NUL characters; the 835/999 and referral-file uploads get files with a NUL byte.
No answer may be a 5xx, and the main tables hold the same rows afterwards.

tests/e2e/test_bad_input_pages.py covers the onboarding forms, invitations and sign-in limits in
the browser; this file does not repeat them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from billing.models import Acknowledgement, Remittance
from billing.services import acks as ack_services
from billing.services import remittances as remit_services
from cbo_portal import identifiers
from cbo_portal.api.parsers import json_problem
from cbo_portal.badinput import BadInput, control_char_problem, id_or_none, posted_id
from cbo_portal.choices import Role
from cbo_portal.models import ApiToken, Invitation, Membership
from cbo_portal.services import people
from contracts.models import Contract, RateLine
from referrals.choices import ImportStatus
from referrals.models import Member, Referral, ReferralImport
from referrals.services import imports
from referrals.services.imports import writing as import_writing
from tests.billing.remit_factories import ack_999, clp, line_pay, remittance_835, sent_batch, submitted_claim
from tests.referrals.factories import covered_world

pytestmark = pytest.mark.django_db

PERSONAS = ("cbo_admin", "care_coordinator", "cbo_billing")  # CBO admin, plan care coordinator, billing
NUL_AND_CONTROL = ("\x00", "abc\x00def", "\x01\x02\x1b[2J\x7f", "\x08", "\x1f")
BAD_PAGES = ("abc", "99999999999999999999", "-1", "0", "٣", "1e3")
# Every query parameter a page view reads (grep request.GET in the apps), each given junk at once.
FILTERS = (
    "status",
    "plan",
    "month",
    "year",
    "quarter",
    "party",
    "county",
    "file",
    "action",
    "referral",
    "show",
    "repeat",
    "period",
    "export",
    "category",
    "unmatched",
    "kind",
    "cbo",
    "service",
    "member",
)
JUNK = (
    "abc",
    "²",
    "٣٤",
    "１２",
    "99999999999999999999",
    "-1",
    "0",
    "2024-99",
    "99999999999999999999-01",
    "0-0",
    "1.5",
    "'",
    "%",
    "1\r\nX-Injected: 1",
    "Ω" * 300,
)
# ... and the same junk once more with every export switched on (CSV downloads name their files).
EXPORTS = {"format": "csv", "file": "status", "export": "csv"}
# Fields views read record ids from (grep int(request.POST / pk=request.POST), all given junk at once.
ID_FIELDS = (
    "invitation",
    "membership",
    "token",
    "organization",
    "line",
    "plan",
    "submitter",
    "referral",
    "cbo",
    "member",
    "claim",
    "batch",
    "role",
)
ID_ACTIONS = ("revoke", "deactivate", "role", "remove_line", "")
BAD_IDS = ("abc", "²", "99999999999999999999")
API_PARAMS = (
    "search",
    "q",
    "ordering",
    "page",
    "page_size",
    "limit",
    "offset",
    "status",
    "plan",
    "cbo",
    "member",
    "referral",
    "service",
    "county",
    "created_after",
    "service_date_after",
    "month",
    "unmatched",
)
# Pages whose POST does its work without any id (signs out, rebuilds everything): not for junk posts.
NO_JUNK_POST = {"logout", "build"}
# Tables a GET may write to: reading members' data is itself audited; the first plan worklist
# asked for computes its figures snapshot (a derived cache, NetworkSnapshot, never domain data).
READ_LOGS = {"cbo_portal.auditevent", "referrals.networksnapshot"}


def routes(prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, name) of every URL pattern without arguments, under ``prefix``."""

    def walk(patterns, base: str) -> Iterator[tuple[str, str]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, base + str(p.pattern))
            elif isinstance(p, URLPattern) and p.pattern.regex.groups == 0:
                yield "/" + (base + str(p.pattern)).replace("^", "").replace("$", ""), p.name or ""

    seen: set[str] = set()
    for path, name in walk(get_resolver().url_patterns, ""):
        if path not in seen and path.startswith(prefix):
            seen.add(path)
            yield path, name


def page_routes() -> list[tuple[str, str]]:
    return [(p, n) for p, n in routes() if not p.startswith(("/api/", "/admin/", "/static/"))]


def api_routes() -> list[tuple[str, str]]:
    return [(p, n) for p, n in routes("/api/v1/") if n not in ("api-schema", "api-docs")]


def table_counts() -> dict[str, int]:
    return {
        model._meta.label_lower: model._base_manager.count()
        for label in ("cbo_portal", "contracts", "referrals", "billing")
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed and not model._meta.proxy
    }


def changed_tables(before: dict[str, int], *, allowed: set[str] = frozenset()) -> dict[str, tuple[int, int]]:
    after = table_counts()
    return {k: (before[k], after[k]) for k in before if before[k] != after[k] and k not in allowed}


@dataclass
class Corpus:
    """Counts what was sent and collects every answer that breaks the rules."""

    requests: int = 0
    routes: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def check(self, response, what: str, *, want: int | None = None, says: str | None = None) -> None:
        self.requests += 1
        code = response.status_code
        text = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
        if code >= 500:
            self.failures.append(f"{what}: {code}")
        elif want is not None and code != want:
            self.failures.append(f"{what}: {code}, expected {want}")
        elif says is not None and says not in text:
            self.failures.append(f"{what}: {code} without “{says}”: {text[:300]!r}")

    def assert_clean(self) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.requests} requests:\n" + "\n".join(
            self.failures[:60]
        )


@pytest.fixture
def seeded(world):
    """A world with something on every list: a covered referral, a submitted claim in a sent
    batch, an open invitation, an API token."""
    covered_world(world)
    batch = sent_batch(world, sets={"0001": 1})
    submitted_claim(world)
    people.invite(world.cbo, acting_user=world.cbo_admin, email="new@eastside.org", role=Role.CBO_STAFF)
    people.create_api_token(acting_user=world.cbo_admin, organization=world.cbo, name="ci")
    world.batch = batch
    return world


# --- the corpus: pages ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_answer_bad_query_strings_in_words(seeded, persona, settings):
    settings.TWO_FACTOR_ENFORCED = False
    client = Client(raise_request_exception=False)  # a 500 is counted, not raised
    client.force_login(getattr(seeded, persona))
    corpus, before = Corpus(), table_counts()
    for path, name in page_routes():
        corpus.routes.add(path)
        for value in NUL_AND_CONTROL:
            corpus.check(
                client.get(path, {"q": value}), f"GET {path}?q={value!r}", want=400, says="never part of"
            )
        corpus.check(client.get(path, {"\x00q": "x"}), f"GET {path} NUL in a key", want=400)
        for value in BAD_PAGES:
            corpus.check(client.get(path, {"page": value}), f"GET {path}?page={value}")
        for value in JUNK:
            corpus.check(
                client.get(path, dict.fromkeys(FILTERS, value)), f"GET {path} filters={value[:20]!r}"
            )
        for value in (
            "²",
            "99999999999999999999",
            "99999999999999999999-01",
            "9999-12",
            "1\r\nX-Injected: 1",
        ):
            params = {**dict.fromkeys(FILTERS, value), **EXPORTS}
            corpus.check(client.get(path, params), f"GET {path} export filters={value[:20]!r}")
        corpus.check(client.get(path + "%00/"), f"GET {path}%00/")
    corpus.assert_clean()
    assert changed_tables(before, allowed=READ_LOGS) == {}
    print(f"\n{persona}: {corpus.requests} GET requests over {len(corpus.routes)} pages")


@pytest.mark.parametrize("persona", PERSONAS)
def test_forms_refuse_nul_control_chars_and_ids_that_are_not_numbers(seeded, persona, settings):
    settings.TWO_FACTOR_ENFORCED = False
    client = Client(raise_request_exception=False)  # a 500 is counted, not raised
    client.force_login(getattr(seeded, persona))
    corpus, before = Corpus(), table_counts()
    for path, name in page_routes():
        if name in NO_JUNK_POST:
            continue
        corpus.routes.add(path)
        for value in NUL_AND_CONTROL:
            data = {"name": value, "email": f"a{value}@b.org", "action": "revoke"}
            corpus.check(client.post(path, data), f"POST {path} {value!r}", want=400, says="never part of")
        corpus.check(client.post(path, {"\x00": "1"}), f"POST {path} NUL key", want=400)
        upload = SimpleUploadedFile("x.txt", b"plain")
        corpus.check(
            client.post(path, {"note": "a\x00b", "file": upload}), f"POST {path} multipart NUL", want=400
        )
        for action in ID_ACTIONS:
            for value in BAD_IDS:
                data = {**dict.fromkeys(ID_FIELDS, value), "action": action}
                corpus.check(client.post(path, data), f"POST {path} action={action} ids={value}")
    corpus.assert_clean()
    assert changed_tables(before, allowed=READ_LOGS) == {}
    print(f"\n{persona}: {corpus.requests} POST requests over {len(corpus.routes)} pages")


def test_ids_that_are_not_numbers_get_a_clear_400_on_team_and_account(seeded, client):
    """The prober's cases: each names the field, and nothing is revoked or deactivated."""
    tokens, invitations = ApiToken.objects.filter(revoked_at=None).count(), Invitation.objects.count()
    active, lines = Membership.objects.filter(is_active=True).count(), RateLine.objects.count()
    client.force_login(seeded.contract_manager)  # the contract's page is the plan's to edit
    response = client.post(
        f"/contracts/{Contract.objects.get().pk}/", {"action": "remove_line", "line": "abc"}
    )
    assert response.status_code == 400 and "which “line” it is about" in response.text
    client.force_login(seeded.cbo_admin)
    for path, data in [
        ("/team/", {"action": "revoke", "invitation": "abc"}),
        ("/team/", {"action": "deactivate", "membership": "x1"}),
        ("/team/", {"action": "role", "membership": "²", "role": "cbo_staff"}),
        ("/team/", {"action": "activate", "membership": "99999999999999999999"}),
        ("/account/", {"action": "revoke", "token": "abc"}),
        ("/account/", {"action": "revoke"}),
        ("/switch/", {"organization": "abc"}),
    ]:
        response = client.post(path, data)
        assert response.status_code == 400, (path, data)
        assert "it must be a record number" in response.text and 'role="alert"' in response.text
    assert ApiToken.objects.filter(revoked_at=None).count() == tokens
    assert Invitation.objects.count() == invitations
    assert Membership.objects.filter(is_active=True).count() == active
    assert RateLine.objects.count() == lines


def test_a_too_large_form_is_a_413_page(seeded, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client.force_login(seeded.cbo_admin)
    response = client.post("/team/", {"email": "a@b.org", "note": "x" * 5000})
    assert response.status_code == 413
    assert "The request is larger than 2 KB" in response.text


def test_a_nul_in_the_session_cookie_is_refused_before_the_session_table(client):
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get("/")
    assert response.status_code == 400 and "cookie" in response.text


# --- the corpus: API --------------------------------------------------------------------------


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_answers_bad_input_in_its_error_format(seeded, persona, settings):
    settings.TWO_FACTOR_ENFORCED = False
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # "huge" without sending 10 MB a request
    client = APIClient(raise_request_exception=False)
    client.force_login(getattr(seeded, persona))
    corpus, before = Corpus(), table_counts()

    def json_error(response, what: str, want: int, says: str) -> None:
        corpus.check(response, what, want=want, says=says)
        if response.status_code == want and response["Content-Type"].startswith("application/json"):
            body = response.json()
            if set(body) != {"error"} or not {"code", "message", "fields"} <= set(body["error"]):
                corpus.failures.append(f"{what}: not the API error format: {body}")

    bodies = {
        "deep": (_deep(40), 400, "nested more than 32 levels"),
        "very deep": (_deep(30_000), 400, "nested more than 32 levels"),  # Python's parser recursed to a 500
        "deep object": ('{"a":' * 50 + "1" + "}" * 50, 400, "nested more than 32 levels"),
        "NUL": (json.dumps({"notes": "a\x00b", "reason": "x"}), 400, "U+0000"),
        "NUL key": (json.dumps({"a\x00": 1}), 400, "U+0000"),
        "control": (json.dumps({"member": {"first_name": "\x1b[31m"}}), 400, "U+001B"),
        "surrogate": ('{"notes": "\\ud800"}', 400, "unpaired surrogate"),
        "huge": (json.dumps({"notes": "x" * 100_000}), 413, "larger than 64 KB"),
        "NaN": ('{"units": NaN}', 400, "JSON parse error"),
        "not JSON": ("{", 400, "JSON parse error"),
        "not UTF-8": (b'{"a": "\xff"}', 400, "not utf-8 text"),
    }
    for path, _name in api_routes():
        corpus.routes.add(path)
        for value in NUL_AND_CONTROL:
            json_error(
                client.get(path, {"search": value}), f"GET {path}?search={value!r}", 400, "never part of"
            )
        for value in (*BAD_PAGES, *JUNK):
            corpus.check(
                client.get(path, dict.fromkeys(API_PARAMS, value)), f"GET {path} params={value[:20]!r}"
            )
        for kind, (body, want, says) in bodies.items():
            response = client.post(path, body, content_type="application/json")
            if response.status_code in (403, 405, 415):  # not for this persona, nobody, or no JSON here
                corpus.requests += 1
                continue
            json_error(response, f"POST {path} {kind}", want, says)
        corpus.check(client.post(path, {"name": "a\x00"}, format="multipart"), f"POST {path} multipart NUL")
    corpus.assert_clean()
    assert changed_tables(before, allowed=READ_LOGS) == {}
    print(f"\n{persona}: {corpus.requests} API requests over {len(corpus.routes)} endpoints")


def test_deeply_nested_json_to_referrals_is_a_400_not_a_500(seeded, api):
    response = api.as_user(seeded.care_coordinator).post(
        "/api/v1/referrals/", _deep(100_000), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested more than 32 levels" in response.json()["error"]["message"]


def test_patch_with_nul_form_fields_is_refused(seeded, api):
    """Django parses only POST bodies; PUT/PATCH forms go through the API's own parsers."""
    token = ApiToken.objects.first()
    response = api.as_user(seeded.cbo_admin).patch(
        f"/api/v1/tokens/{token.pk}/", "name=a%00b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (400, 405)
    if response.status_code == 400:
        assert "U+0000" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "cin",
    ["٩١٢٣٠٠٠١A", "９１２３０００１A", "۹۱۲۳۰۰۰۱A", "९१२३०००१A", "91230001Ａ", "9123000¹A"],
    ids=["arabic-indic", "fullwidth", "persian", "devanagari", "fullwidth-letter", "superscript"],
)
def test_a_cin_of_non_ascii_digits_is_refused(seeded, api, cin):
    members = Member.objects.count()
    body = {
        "member": {"cin": cin, "first_name": "Rosa", "last_name": "Alvarez", "dob": "1961-04-02"},
        "service": "T2041-U6",
        "reason": "Food insecurity",
        "cbo": seeded.cbo.pk,
        "plan": seeded.plan.pk,
    }
    response = api.as_user(seeded.care_coordinator).post("/api/v1/referrals/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "CIN" in response.json()["error"]["message"]
    assert Member.objects.count() == members


# --- uploads ----------------------------------------------------------------------------------


def _835_with_nul(world) -> tuple[bytes, int]:
    claim = submitted_claim(world, charges=("100.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "100")])])
    at = data.index(b"CLP")
    return data[:at] + b"\x00" + data[at:], at


def test_an_835_or_999_with_a_nul_byte_is_refused_at_the_door(seeded, client, api):
    data, at = _835_with_nul(seeded)
    ack = ack_999(seeded.batch, sets=["0001"])
    ack_at = ack.index(b"AK1")
    ack = ack[:ack_at] + b"\x00" + ack[ack_at:]
    before = table_counts()

    client.force_login(seeded.cbo_billing)
    for name, content, kind, offset in (("era.835", data, "835", at), ("ack.999", ack, "999", ack_at)):
        response = client.post(
            "/billing/remittances/upload/", {"file": SimpleUploadedFile(name, content), "kind": "auto"}
        )
        assert response.status_code == 200
        assert f"file contains a NUL byte at offset {offset}" in response.text

    rest = api.as_user(seeded.cbo_billing)
    for url, name, content, kind, offset in (
        ("/api/v1/remittances/", "era.835", data, "835", at),
        ("/api/v1/acknowledgements/", "ack.999", ack, "999", ack_at),
    ):
        response = rest.post(url, {"file": SimpleUploadedFile(name, content)}, format="multipart")
        assert response.status_code == 400
        assert f"file contains a NUL byte at offset {offset}" in response.json()["error"]["message"]

    with pytest.raises(remit_services.RemittanceImportError, match=f"NUL byte at offset {at}"):
        remit_services.import_remittance(data, file_name="era.835")  # the SFTP pickup's way in
    with pytest.raises(ack_services.AckImportError, match=f"NUL byte at offset {ack_at}"):
        ack_services.import_ack(ack, file_name="ack.999")
    assert changed_tables(before, allowed=READ_LOGS) == {}
    assert not Remittance.objects.exists() and not Acknowledgement.objects.exists()


CSV_HEADER = "CIN,First Name,Last Name,DOB,Service,Plan Reference\n"


def test_a_referral_file_with_a_nul_byte_ends_with_its_reason(
    seeded, client, django_capture_on_commit_callbacks
):
    content = (
        CSV_HEADER + "91230001A,Rosa,Alvarez,1961-04-02,T2041-U6,PR-1\n"
        "91230002A,Ana\x00,Lopez,1970-01-01,T2041-U6,PR-2\n"
    ).encode()
    client.force_login(seeded.care_coordinator)
    referrals = Referral.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/referrals/files/",
            {"file": SimpleUploadedFile("refs.csv", content, "text/csv"), "cbo": seeded.cbo.pk},
        )
    assert response.status_code == 302
    batch = ReferralImport.objects.get()
    assert batch.finished and batch.status == ImportStatus.INVALID
    offset = content.index(b"\x00")
    assert f"NUL byte (a zero byte) at offset {offset}, on line 3" in batch.message
    assert batch.row_errors.get().line == 3
    assert Referral.objects.count() == referrals
    page = client.get(f"/referrals/files/{batch.pk}/")
    assert page.status_code == 200 and "NUL byte" in page.text


def test_any_exception_ends_a_referral_import_failed_with_its_reason(seeded, monkeypatch):
    """Not only (IntegrityError, OSError, ValueError): whatever stops the import, it never stays
    "importing" for ever."""
    content = (CSV_HEADER + "91230001A,Rosa,Alvarez,1961-04-02,T2041-U6,PR-1\n").encode()
    batch, _ = imports.start_import(
        acting_user=seeded.care_coordinator,
        plan=seeded.plan,
        cbo=seeded.cbo,
        upload=SimpleUploadedFile("refs.csv", content, "text/csv"),
    )

    def boom(*args, **kwargs):
        raise KeyError("service_id")

    monkeypatch.setattr(import_writing, "_write_batch", boom)
    batch = imports.process(batch)
    assert batch.status == ImportStatus.FAILED and batch.finished
    assert batch.message.startswith(
        "The import stopped and nothing was imported: an unexpected error (KeyError"
    )
    assert not Referral.objects.filter(import_batch=batch).exists()


# --- the rules themselves ---------------------------------------------------------------------


def test_control_characters_rule():
    assert control_char_problem("tab\tline\nfeed\r ok", "the note") is None
    assert control_char_problem("café, naïve, 日本", "the note") is None
    assert control_char_problem("ab\x00", "the search “q”") == (
        "The search “q” contains U+0000, a NUL byte at position 3, which is never part of real text. "
        "Remove it and try again."
    )
    assert "U+007F" in control_char_problem("\x7f", "x")


def test_ids_are_ascii_digits_within_a_bigint():
    assert id_or_none(" 42 ") == 42
    for bad in ("", "abc", "²", "٣", "１２", "-1", "0", "1.5", "99999999999999999999", None, 7):
        assert id_or_none(bad) is None, bad
    with pytest.raises(BadInput, match="which “token” it is about"):
        posted_id({"token": "abc"}, "token")


def test_json_rules():
    assert json_problem({"a": [{"b": "ok\ttab"}]}) is None
    assert "nested more than 32 levels" in json_problem(json.loads(_deep(33)))
    assert json_problem(json.loads(_deep(32))) is None
    assert "at member.first_name" in json_problem({"member": {"first_name": "\x00"}})
    assert "at items[1]" in json_problem({"items": ["ok", "\x01"]})


@pytest.mark.parametrize("value", ["٩١٢٣٤٥٦٧A", "９１２３４５６７A", "9123456٧A"])
def test_identifier_checks_want_ascii_digits(value):
    assert identifiers.cin_problem(value)
    assert identifiers.npi_problem(value.replace("A", "٣"))
    assert identifiers.tin_problem("١٢-٣٤٥٦٧٨٩")
    assert identifiers.icd10_problem("Z٥٩.٤١")
    assert identifiers.hcpcs_problem("T٢٠٤١")
