"""The OpenAPI document: complete, and the running app keeps to it (schemathesis)."""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import create_app
from app.errors import OtpError
from app.web.errors import HTTP_CODES

SPEC = json.loads((Path(__file__).resolve().parent.parent / "app" / "static" / "openapi.json").read_text())

# The console provider and the memory store: every code path of the routes, no Vonage, no Redis. Built at
# import, not by the make_app fixture: schemathesis makes its tests from the app when they are collected.
app = create_app({"OTP_PROVIDER": "console", "OTP_RATELIMIT_ENABLED": "false"})
schema = schemathesis.openapi.from_wsgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_app_keeps_to_its_document(case: schemathesis.Case) -> None:
    # Whether a string is a phone number is phonenumbers' metadata, not a schema: any string is schema-valid
    # and most get 400. Every other check runs: no 5xx, and every status, header, content type and body
    # the app answers is in the document.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def _subclasses(cls: type[OtpError]) -> set[type[OtpError]]:
    return {cls} | {sub for direct in cls.__subclasses__() for sub in _subclasses(direct)}


def test_the_documented_error_codes_are_exactly_those_the_service_answers() -> None:
    documented = set(SPEC["components"]["schemas"]["Error"]["properties"]["code"]["anyOf"][0]["enum"])
    # Our error classes, and the codes werkzeug's HTTP errors are answered with.
    answered = {cls.code for cls in _subclasses(OtpError)} | {code for code, _ in HTTP_CODES.values()}

    assert answered == documented


def test_every_route_is_documented() -> None:
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}

    assert routes == set(SPEC["paths"])
