"""template.yaml deployed into a real LocalStack through CloudFormation and the SAM transform."""

from __future__ import annotations

import subprocess

import pytest

from parley_dev.deploy import Deployer, DeployResult, localstack_parameters
from parley_dev.localstack import DATABASE_SECRET_NAME, client, ensure_secret
from parley_dev.services import free_port
from tests.deploy.conftest import TEMPLATE_PATH
from tests.foundation.test_cli import CLI, ROOT, _env
from tests.localstack.conftest import INSTALL_BUDGET

pytestmark = [pytest.mark.localstack, INSTALL_BUDGET]


@pytest.fixture(scope="module")
def database_secret(localstack: str) -> str:
    """What `parley-dev up --aws localstack` seeds before anyone deploys."""
    url = "postgresql+psycopg://parley@db.internal:5432/parley"
    return ensure_secret(localstack, DATABASE_SECRET_NAME, url, replace=False)


def deploy(endpoint: str, stack_name: str, **overrides: str) -> DeployResult:
    parameters = localstack_parameters(endpoint, functions=False, overrides=overrides)
    return Deployer(endpoint).deploy(TEMPLATE_PATH, stack_name, parameters)


def stack_resources(endpoint: str, stack_name: str) -> dict[str, str]:
    listed = client("cloudformation", endpoint).list_stack_resources(StackName=stack_name)
    return {r["LogicalResourceId"]: r["ResourceStatus"] for r in listed["StackResourceSummaries"]}


def policy_statement(endpoint: str, stack_name: str, logical_id: str) -> dict:
    cloudformation, iam = client("cloudformation", endpoint), client("iam", endpoint)
    arn = cloudformation.describe_stack_resource(
        StackName=stack_name, LogicalResourceId=logical_id
    )["StackResourceDetail"]["PhysicalResourceId"]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    (statement,) = document["Document"]["Statement"]
    return statement


# The attachments bucket and the policies that name it deploy without functions.
ATTACHMENTS = (
    "AttachmentsBucket",
    "AttachmentsBucketPolicy",
    "AttachmentsReadPolicy",
    "AttachmentsUploadPolicy",
    "AttachmentsLinkPolicy",
    "AttachmentsExpirePolicy",
)


@pytest.fixture(scope="module")
def first_deploy(localstack: str, database_secret: str) -> DeployResult:
    return deploy(localstack, "parley")


def test_the_stack_reaches_create_complete_without_what_the_free_edition_lacks(
    localstack, first_deploy, database_secret
):
    assert first_deploy.status == "CREATE_COMPLETE"
    assert stack_resources(localstack, "parley") == {
        name: "CREATE_COMPLETE"
        for name in ("JwtSecretReadPolicy", "DatabaseSecretReadPolicy", *ATTACHMENTS)
    }
    statement = policy_statement(localstack, "parley", "DatabaseSecretReadPolicy")
    assert (statement["Action"], statement["Resource"]) == (
        "secretsmanager:GetSecretValue",
        database_secret,
    )


def test_a_second_deploy_with_no_change_changes_nothing(localstack, first_deploy):
    cloudformation = client("cloudformation", localstack)
    events_before = cloudformation.describe_stack_events(StackName="parley")["StackEvents"]

    again = deploy(localstack, "parley")

    assert not again.changed
    assert again.status == "CREATE_COMPLETE"
    assert cloudformation.describe_stack_events(StackName="parley")["StackEvents"] == events_before
    assert cloudformation.list_change_sets(StackName="parley")["Summaries"] == []


def test_a_changed_parameter_is_deployed_as_an_update(localstack, database_secret):
    deploy(localstack, "parley-update")
    iam = client("iam", localstack)
    policies_before = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}

    # The database now by URL: the policy that reads its secret has no reason to be.
    update = deploy(
        localstack,
        "parley-update",
        DatabaseSecretArn="",
        DatabaseUrl="postgresql+psycopg://parley@db.internal:5432/parley",
    )

    assert update.changes == [("Remove", "DatabaseSecretReadPolicy", "AWS::IAM::ManagedPolicy")]
    assert update.status == "UPDATE_COMPLETE"
    assert stack_resources(localstack, "parley-update") == {
        name: "CREATE_COMPLETE" for name in ("JwtSecretReadPolicy", *ATTACHMENTS)
    }
    policies_after = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    (removed,) = policies_before - policies_after
    assert removed.startswith("parley-update-DatabaseSecretReadPolicy-")


def run_deploy(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "deploy", "--target", "localstack", *args],
        cwd=ROOT,
        env=_env(LOCALSTACK_ENDPOINT=endpoint),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deploy_command_says_what_it_deployed_then_that_nothing_changed(
    localstack, database_secret
):
    first = run_deploy(localstack, "--stack-name", "parley-cli")
    second = run_deploy(localstack, "--stack-name", "parley-cli")

    assert first.returncode == 0, first.stderr
    assert "Add JwtSecretReadPolicy (AWS::IAM::ManagedPolicy)" in first.stdout
    assert "Stack parley-cli: CREATE_COMPLETE" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "No change: stack parley-cli stays CREATE_COMPLETE" in second.stdout


def test_the_deploy_command_without_a_localstack_says_how_to_start_one():
    result = run_deploy(f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 1
    assert "no LocalStack answers" in result.stderr
    assert "make run AWS=localstack" in result.stderr
