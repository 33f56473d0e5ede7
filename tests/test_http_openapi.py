"""The service's OpenAPI document: the shipped copy is what the app serves, and a property-based run
of schemathesis against a live `hennan-flow serve` finds no 500 and no response outside the spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hennan_flow.http import openapi
from http_service import ADMIN, Keys, prepare, served


def test_the_served_document_is_the_shipped_copy() -> None:
    assert openapi.generated() == openapi.shipped(), (
        "the routes changed: regenerate with python -m hennan_flow.http.openapi"
    )
    doc = json.loads(openapi.shipped())
    assert doc["openapi"] == "3.1.0"
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert "400" in responses and "500" not in responses
            assert ("security" in operation) == (path not in openapi.ANONYMOUS)
            if path not in openapi.ANONYMOUS:
                assert {"401", "403", "404", "409", "422"} <= set(responses)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Keys]]:
    """A served database of each kind: the spec holds whichever store the workers share."""
    folder = tmp_path_factory.mktemp("openapi")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'hf.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    prepare(url)
    keys = Keys(folder)
    with served(url, keys) as base:
        assert httpx.get(f"{base}/openapi.json").json() == json.loads(openapi.shipped())
        yield base, keys


@pytest.fixture(scope="module")
def api_schema(live: tuple[str, Keys]) -> Any:
    return schemathesis.openapi.from_url(f"{live[0]}/openapi.json")


OPERATIONS = [
    (method, path) for path, ops in json.loads(openapi.shipped())["paths"].items() for method in sorted(ops)
]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_yields_a_500_or_a_response_outside_the_spec(
    method: str, path: str, api_schema: Any, live: tuple[str, Keys]
) -> None:
    base, keys = live
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: Any) -> None:
        if case.query and "wait" in case.query:
            case.query["wait"] = min(
                float(case.query["wait"]), 0.05
            )  # the long-poll: tested in test_http_service
        case.call_and_validate(base_url=base, headers=keys.headers(ADMIN), checks=CHECKS)

    check()
