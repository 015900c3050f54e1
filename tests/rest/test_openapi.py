"""The OpenAPI document: complete, with the error shape, and true to what the API answers."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from parley.rest.app import create_app
from tests.rest.conftest import Account


@pytest.fixture
def openapi() -> dict:
    return TestClient(create_app()).get("/api/openapi.json").json()


def test_the_document_is_served_under_the_api_base_path(openapi: dict) -> None:
    assert openapi["openapi"].startswith("3.")
    assert {
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/users/me",
        "/api/users",
        "/api/chats",
        "/api/chats/{chatId}",
        "/api/chats/{chatId}/members",
        "/api/chats/{chatId}/members/{userId}",
        "/api/chats/{chatId}/messages",
        "/api/chats/{chatId}/pins",
    } <= set(openapi["paths"])


def test_every_operation_documents_its_errors_with_the_error_shape(openapi: dict) -> None:
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in openapi["paths"].items():
        if path == "/api/health":
            continue
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
            assert "500" in errors, f"{method} {path}"
            for code, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, f"{method} {path} {code}"


def test_the_error_shape_names_status_code_message_and_field(openapi: dict) -> None:
    schema = openapi["components"]["schemas"]["ErrorOut"]

    assert set(schema["properties"]) == {"status", "code", "message", "field"}
    assert "rate_limited" in str(openapi["components"]["schemas"])


def test_rate_limited_routes_document_retry_after(openapi: dict) -> None:
    for path in ("/api/auth/login", "/api/auth/register"):
        assert "Retry-After" in openapi["paths"][path]["post"]["responses"]["429"]["headers"]


def test_the_docs_page_is_served() -> None:
    response = TestClient(create_app()).get("/api/docs")

    assert response.status_code == 200
    assert "/api/openapi.json" in response.text


@pytest.fixture
def fuzz_account(register) -> Account:
    return register("fuzzer")


# Building the document touches no backing service, so loading it here is safe.
schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_generated_requests_get_no_5xx_and_documented_responses(
    case: schemathesis.Case, fuzz_account: Account
) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_account.access_token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
