"""What deploy sends LocalStack, worked out without one: the template per parameters, the zips."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from parley_dev.deploy import DeployError, package, without_false_conditions, zip_directory
from parley_dev.gateway.cfn import load_template
from parley_dev.localstack import start_localstack
from parley_dev.services import ServiceError
from tests.deploy.conftest import TEMPLATE_PATH

pytestmark = pytest.mark.unit

FREE_EDITION = {"ApiGateway": "Disabled", "KafkaEventSources": "Disabled"}
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:parley/database-AbCdEf"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def kept_types(template: dict[str, Any], **parameters: str) -> dict[str, str]:
    kept, _ = without_false_conditions(template, parameters)
    return {name: resource["Type"] for name, resource in kept["Resources"].items()}


def test_without_functions_only_the_policies_and_the_bucket_are_deployed(template):
    kept = kept_types(template, Functions="Disabled", DatabaseSecretArn=SECRET_ARN, **FREE_EDITION)

    assert kept == {
        "JwtSecretReadPolicy": "AWS::IAM::ManagedPolicy",
        "DatabaseSecretReadPolicy": "AWS::IAM::ManagedPolicy",
        # Attachments: the bucket, and the policies the functions would get.
        "AttachmentsBucket": "AWS::S3::Bucket",
        "AttachmentsBucketPolicy": "AWS::S3::BucketPolicy",
        "AttachmentsReadPolicy": "AWS::IAM::ManagedPolicy",
        "AttachmentsUploadPolicy": "AWS::IAM::ManagedPolicy",
        "AttachmentsLinkPolicy": "AWS::IAM::ManagedPolicy",
        "AttachmentsExpirePolicy": "AWS::IAM::ManagedPolicy",
    }


def test_without_api_gateway_the_functions_stay_and_nothing_of_the_apis_does(template):
    everything = kept_types(template)
    kept = kept_types(template, Functions="Enabled", DatabaseUrl="postgresql://x", **FREE_EDITION)

    assert not [kind for kind in kept.values() if kind.startswith("AWS::ApiGatewayV2::")]
    assert "AWS::Lambda::Permission" not in kept.values()
    assert "ConnectionsManagePolicy" not in kept
    consumers = {"AnalyticsFunction", "AuditFunction", "FanOutFunction", "NotificationsFunction"}
    functions = {n for n, kind in everything.items() if kind == "AWS::Serverless::Function"}
    assert {n for n, kind in kept.items() if kind == "AWS::Serverless::Function"} == (
        functions - consumers
    )
    assert {"ParleyLayer", "DatabaseMigration", "RelayFunction"} <= set(kept)


def test_with_the_defaults_only_the_msk_variants_are_left_out(template):
    _, left_out = without_false_conditions(template, {"DatabaseUrl": "postgresql://x"})

    assert sorted(left_out) == [
        "AnalyticsMskFunction",
        "AuditMskFunction",
        "DatabaseSecretReadPolicy",
        "FanOutMskFunction",
        "NotificationsMskFunction",
    ]


def test_outputs_of_left_out_resources_are_left_out_too(template):
    kept, _ = without_false_conditions(template, {"Functions": "Disabled"})

    # Only the bucket's name stays: the bucket does not depend on functions.
    assert list(kept["Outputs"]) == ["AttachmentsBucketName"]


def test_a_directory_zips_to_the_same_bytes_whatever_its_dates_and_bytecode(tmp_path: Path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    first = zip_directory(tmp_path)

    (tmp_path / "app.py").touch()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\0")
    (tmp_path / "pkg" / "mod.pyc").write_bytes(b"\0")

    assert zip_directory(tmp_path) == first


def test_a_changed_file_zips_to_other_bytes(tmp_path: Path):
    (tmp_path / "app.py").write_text("A = 1\n")
    first = zip_directory(tmp_path)
    (tmp_path / "app.py").write_text("A = 2\n")

    assert zip_directory(tmp_path) != first


def test_packaging_points_each_code_directory_at_its_uploaded_object(template):
    uploads: dict[str, bytes] = {}

    def upload(key: str, data: bytes) -> dict[str, str]:
        uploads[key] = data
        return {"Bucket": "artifacts", "Key": key}

    kept, _ = without_false_conditions(template, {"ApiGateway": "Disabled", "Functions": "Enabled"})
    del kept["Resources"]["ParleyLayer"]  # the layer needs a build; see the next test
    packaged = package(kept, TEMPLATE_PATH.parent, upload)

    code = packaged["Resources"]["ConnectFunction"]["Properties"]["CodeUri"]
    assert code["Bucket"] == "artifacts"
    assert uploads[code["Key"]] == zip_directory(TEMPLATE_PATH.parent / "functions" / "connect")


def test_the_layer_source_is_refused_for_want_of_a_build(template):
    kept, _ = without_false_conditions(template, {"Functions": "Enabled"})

    with pytest.raises(DeployError, match="sam build"):
        package(kept, TEMPLATE_PATH.parent, lambda key, data: {"Bucket": "b", "Key": key})


def test_localstack_refuses_a_taken_port_and_says_what_to_do(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(ServiceError, match=f"LOCALSTACK_PORT={port + 1}"):
            start_localstack(tmp_path, {"LOCALSTACK_PORT": str(port)})
