"""API fuzzing: schemathesis generates requests from the app's own OpenAPI document for every operation, sent with
each role's key. No answer may be a 5xx, every answer must match its documented status, content type and schema,
invalid data must be refused with a 4xx, and every error body is {"error_code", "detail", ...}. Left out:
schemathesis' `positive_data_acceptance` — it counts a schema-valid request refused for what no schema can say
(a PNG uploaded as evidence, a reject without a reason code, an id that does not exist) as a failure.

Bounded here (CLAUSEWISE_FUZZ_EXAMPLES, default 8 examples per operation and role); `make fuzz` runs it longer.
Uploads only queue (Celery to the embedded SQLite broker, no worker), so a generated upload costs milliseconds."""

from __future__ import annotations

import os

import pytest
import schemathesis
from conftest import bearer, make_key
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = [pytest.mark.needs_model]   # /v1/search embeds the query

EXAMPLES = int(os.environ.get("CLAUSEWISE_FUZZ_EXAMPLES", "8"))
ROLES = ("uploader", "reviewer", "auditor", "admin")


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    from api.app import create_app
    from core.db import upgrade
    from core.settings import Settings

    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("fuzz") / "data", rate_uploads_per_minute=0,
                        rate_classify_per_minute=0)
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    keys = {role: make_key(settings, role) for role in ROLES}
    app = create_app(settings)
    app.state.runtime.embedder.embed(["warm up"])   # the model loads once here, not inside a timed request
    return app, keys


@pytest.fixture(scope="module")
def api_schema(fuzz_env):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_env[0])


def _error_body_shape(ctx, response, case):
    """Every 4xx/5xx JSON answer is {"error_code": str, "detail": str, ...}."""
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error_code"), str), body
        assert isinstance(body.get("detail"), str), body
    return True


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_operation_as_every_role(api_schema, fuzz_env, mode):
    """Valid requests (positive) and invalid ones (negative: wrong types, missing fields, out-of-range values)
    for each operation, each sent with every role's key. (One test looping over the operations: schemathesis'
    pytest plugin does not run under pytest 9.)"""
    from hypothesis import given
    from schemathesis import GenerationMode

    _, keys = fuzz_env
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        op = result.ok()
        operations += 1

        @hsettings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=GenerationMode(mode)))
        def run(case):
            for role in ROLES:   # the same generated request with each role's key
                response = case.call(headers=bearer(keys[role]), timeout=60)
                assert response.status_code < 500, (role, response.status_code, response.text[:300])
                case.validate_response(response, additional_checks=[_error_body_shape],
                                       excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Unsatisfiable:   # negative mode: nothing about this operation can be made invalid (no parameters)
            continue
        except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - collected, reported together below
            subs = "; ".join(f"{type(x).__name__}: {str(x)[:600]}" for x in getattr(e, "exceptions", ()))
            failures.append(f"{op.label}: {type(e).__name__}: {str(e)[:1500]} {subs}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)


def test_the_checks_we_rely_on_exist():
    names = {c.__name__ for c in CHECKS.get_all()}
    assert {"not_a_server_error", "status_code_conformance", "response_schema_conformance",
            "content_type_conformance"} <= names
