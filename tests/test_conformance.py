"""Schemathesis: the in-process mock conforms to the vendor spec ``openapi/pixverse-v1.yaml``.

(a) Every operation, with the spec's examples, coverage cases and generated (positive) cases.
(b) Stateful: the spec's OpenAPI links (POST submits / button 200 -> getJob, cancelJob) drive
    ``schema.as_state_machine()`` for a short run.
(c) Every method a path does not have, on every path: 405 with an ``Allow`` header that names the
    path's methods (schemathesis' ``unsupported_method`` check, on its coverage cases).

Both use the same checks (``CHECKS``) and a valid ``Authorization: Bearer <token>`` header, and a
fresh app per test function. Generated job ids and channels are mostly unknown, so most answers
are the documented 404 (or the documented 400 for a generated face that is not an image): that is
conformance too.

Checks left out, on purpose:

- ``positive_data_acceptance``: the spec cannot express "``face`` must be real image bytes" (the
  binary format has no content rule a generator honours), nor "``jobid`` must be a job this token
  created" nor "``channel`` must be configured", so schema-valid requests get documented 400/404
  answers by design; and once the account's ``maxJobs`` slots are taken (the clock stands still)
  a valid submit gets the documented 429. Weakening the spec to make those 2xx would be wrong.
- ``negative_data_rejection``, ``missing_required_header``, ``ignored_auth``: they judge negative
  cases (invalid data, no auth), out of scope here; the mock's error answers are replayed message by
  message in ``test_spec_examples_replay.py``. ``allow_header_conformance`` judges ``OPTIONS``
  answers, which Flask gives itself.
- ``use_after_free``, ``ensure_resource_availability``, ``object_level_authorization``: stateful
  checks about resources deleted or shared between users; the links here only read and cancel jobs,
  which stay readable after a cancel by design, and tenant isolation is checked in
  ``test_lifecycle_machine.py``.
- ``max_response_time``: timing is not a contract of this spec.
"""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import CoverageScenario
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance
from schemathesis.specs.openapi.checks import unsupported_method

from mock_server import mock_of
from mock_server.resources import vendor_spec_path

TOKEN = "user:1234-conformanceAbCdEf"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_EXAMPLES = 25
"""Generated cases per operation (on top of the spec's examples and the coverage cases)."""

CONFIG = schemathesis.Config.from_dict({
    "generation": {"mode": "positive", "max-examples": FUZZ_EXAMPLES},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": True},
    },
    "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
    "headers": AUTH,
})
schema = schemathesis.openapi.from_path(vendor_spec_path(), config=CONFIG)

# The app fixture is function-scoped on purpose: one fresh mock per operation's test function,
# shared by that function's generated cases (they only ever add jobs or accounts to one tenant).
FUZZ_SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@schema.parametrize()
@FUZZ_SETTINGS
def test_operation_conforms(case: schemathesis.Case, app: Flask):
    case.call_and_validate(app=app, headers=AUTH, checks=CHECKS)


def test_links_conform(app: Flask):
    """The POST 200 links to getJob / cancelJob, as a short state machine run."""
    mock = mock_of(app)
    base = schema.as_state_machine()

    class LinkedJobs(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            mock.reset()  # every scenario starts from a fresh tenant

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"app": app, "headers": AUTH}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            mock.advance(1.0)  # jobs move: started, progress after 1 s, done after 3 s

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case,
                              additional_checks: object = None, **kwargs: object) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    LinkedJobs.run(settings=settings(max_examples=15, stateful_step_count=8, deadline=None,
                                     suppress_health_check=list(HealthCheck)))



# Wrong methods are coverage cases of the negative mode; the other negative cases are not judged here.
WRONG_METHODS = schemathesis.openapi.from_path(vendor_spec_path(), config=schemathesis.Config.from_dict({
    "generation": {"mode": "negative"},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": True, "unexpected-methods": [
        "get", "put", "post", "delete", "patch"]}, "fuzzing": {"enabled": False}, "stateful": {"enabled": False}},
    "headers": AUTH,
}))


@WRONG_METHODS.parametrize()
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
def test_wrong_method_is_405_with_allow(case: schemathesis.Case, app: Flask):
    if case.meta is None or getattr(case.meta.phase.data, "scenario", None) != CoverageScenario.UNSPECIFIED_HTTP_METHOD:
        return
    case.call_and_validate(app=app, headers=AUTH, checks=[not_a_server_error, unsupported_method])
