"""template.yaml deployed into a real LocalStack through CloudFormation and the SAM transform."""

from __future__ import annotations

import pytest

from parley_dev.deploy import Deployer, DeployResult, localstack_parameters
from parley_dev.localstack import DATABASE_SECRET_NAME, client, ensure_secret
from tests.deploy.conftest import TEMPLATE_PATH

pytestmark = pytest.mark.localstack


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


@pytest.fixture(scope="module")
def first_deploy(localstack: str, database_secret: str) -> DeployResult:
    return deploy(localstack, "parley")


def test_the_stack_reaches_create_complete_without_what_the_free_edition_lacks(
    localstack, first_deploy, database_secret
):
    assert first_deploy.status == "CREATE_COMPLETE"
    assert stack_resources(localstack, "parley") == {
        "JwtSecretReadPolicy": "CREATE_COMPLETE",
        "DatabaseSecretReadPolicy": "CREATE_COMPLETE",
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
        "JwtSecretReadPolicy": "CREATE_COMPLETE"
    }
    policies_after = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    (removed,) = policies_before - policies_after
    assert removed.startswith("parley-update-DatabaseSecretReadPolicy-")
