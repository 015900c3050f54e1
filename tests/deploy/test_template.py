"""template.yaml: valid for CloudFormation and SAM, and wired to the code and the protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from tests.deploy.conftest import FUNCTIONS_DIR, TEMPLATE_PATH

pytestmark = pytest.mark.unit

# DESIGN §5: every action of the wire protocol, and whether the client gets an ack.
WIRE_ACTIONS = {
    "$connect": False,
    "$disconnect": False,
    "$default": True,
    "message": True,
    "message:read": True,
    "message:delivered": True,
    "message:pin": True,
    "message:unpin": True,
    "message:forward": True,
    "message:edit": True,
    "message:delete": True,
    "chat:join": True,
    "chat:leave": True,
    "typing": True,
    "users:list": True,
    "ping": True,
    "auth": True,
}

# A derived stream's category names the consumer that feeds it (DESIGN §7);
# system.deadletter is a sink that nothing consumes.
CONSUMER_OF_CATEGORY = {"analytics": "analytics", "audit": "audit", "notification": "notifications"}
KAFKA_EVENT_TYPES = {"SelfManagedKafka", "MSK"}

EXPECTED_PARAMETERS = {
    "Stage",
    "SubnetIds",
    "SecurityGroupIds",
    "DatabaseSecretArn",
    "DatabaseHost",
    "DatabaseUrl",
    "RedisUrl",
    "KafkaBootstrapServers",
    "KafkaClientConfig",
    "MskClusterArn",
    "KafkaEventSources",
    "ApiGateway",
    "Functions",
    "JwtSecretName",
    "AttachmentMaxBytes",
    "AllowedOrigins",
    "LogLevel",
    "WebSocketThrottlingBurstLimit",
    "WebSocketThrottlingRateLimit",
    "SnapStart",
    "DeployId",
}


# --- reading the template ----------------------------------------------------


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, "AWS::Serverless::Function")


def function_dir(resource: dict[str, Any]) -> str:
    code_uri = resource["Properties"]["CodeUri"]
    assert code_uri.startswith("functions/") and code_uri.endswith("/"), code_uri
    return code_uri.removeprefix("functions/").rstrip("/")


def function_directory_mismatches(template: dict[str, Any], functions_dir: Path) -> dict[str, set]:
    """Directories the template does not deploy, and functions whose directory is missing."""
    in_template = {function_dir(r) for r in functions(template).values()}
    on_disk = {p.name for p in functions_dir.iterdir() if p.is_dir() and p.name != "__pycache__"}
    return {"not_in_template": on_disk - in_template, "missing_directory": in_template - on_disk}


def sub_reference(value: Any) -> str:
    """The one resource named in `!Sub integrations/${X}` or `!Sub arn:...${X.Arn}/invocations`."""
    names = {part.split("}", 1)[0].split(".")[0] for part in value["Fn::Sub"].split("${")[1:]} - {
        "AWS::Partition",
        "AWS::Region",
        "AWS::AccountId",
        "AWS::URLSuffix",
    }
    (name,) = names
    return name


def aliased_function(reference: str) -> str:
    """`XFunctionAliaslive` (SAM's alias of AutoPublishAlias: live) -> `XFunction`."""
    function, alias_suffix, _ = reference.partition("Aliaslive")
    assert alias_suffix, f"{reference} is not invoked through its live alias"
    return function


def routes_by_key(
    template: dict[str, Any], api: str = "WebSocketApi"
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The routes of one API (the WebSocket API unless told), by route key."""
    return {
        r["Properties"]["RouteKey"]: (name, r)
        for name, r in resources_of_type(template, "AWS::ApiGatewayV2::Route").items()
        if r["Properties"]["ApiId"] == {"Ref": api}
    }


def kafka_events(resource: dict[str, Any]) -> list[dict[str, Any]]:
    events = resource["Properties"].get("Events", {}).values()
    return [e for e in events if e["Type"] in KAFKA_EVENT_TYPES]


def kafka_consumers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in functions(template).items() if kafka_events(r)}


# --- CloudFormation and SAM ----------------------------------------------------


def test_cfn_lint_finds_no_error_and_no_warning():
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE_PATH)

    assert [str(match) for match in matches] == []


def test_sam_translator_transforms_the_template_without_error(template, monkeypatch):
    import copy

    from samtranslator.translator.transform import transform

    # What `sam package` does: local code directories become S3 objects.
    packaged = copy.deepcopy(template)
    for name, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://parley-artifacts/{name}.zip"
    # Managed policy names resolve without AWS: the loader is a stub.
    policy_loader = MagicMock()
    policy_loader.load.return_value = {}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    output = transform(packaged, {}, policy_loader)

    kinds = [r["Type"] for r in output["Resources"].values()]
    assert not [k for k in kinds if k.startswith("AWS::Serverless::")]
    assert kinds.count("AWS::Lambda::Function") == len(functions(template))
    assert kinds.count("AWS::ApiGatewayV2::Route") == len(WIRE_ACTIONS) + 1  # and the REST one
    mappings = resources_of_type(output, "AWS::Lambda::EventSourceMapping")
    assert {m["Condition"] for m in mappings.values()} == {"UseMsk", "UseSelfManagedKafka"}


def test_the_template_declares_the_deployment_parameters(template):
    assert set(template["Parameters"]) == EXPECTED_PARAMETERS
    assert template["Parameters"]["Stage"]["Default"] == "ws"
    assert template["Parameters"]["DatabaseUrl"]["NoEcho"] is True


def test_globals_give_every_function_the_runtime_and_the_settings_names(template):
    function_globals = template["Globals"]["Function"]
    variables = function_globals["Environment"]["Variables"]

    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Handler"] == "app.handler"
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"] == [{"Ref": "ParleyLayer"}]
    assert {
        "DATABASE_URL",
        "DATABASE_SECRET_ARN",
        "REDIS_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "JWT_SECRET_NAME",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_LOG_LEVEL",
    } <= set(variables)


def test_functions_join_the_vpc_only_when_subnets_are_given(template):
    vpc_config = template["Globals"]["Function"]["VpcConfig"]

    condition, when_given, otherwise = vpc_config["Fn::If"]
    assert condition == "HasVpc"
    assert when_given == {
        "SubnetIds": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    assert otherwise == {"Ref": "AWS::NoValue"}


# --- functions and their directories ------------------------------------------


def test_every_function_directory_is_deployed_and_every_deployed_function_has_its_directory(
    template,
):
    assert function_directory_mismatches(template, FUNCTIONS_DIR) == {
        "not_in_template": set(),
        "missing_directory": set(),
    }


def test_the_directory_check_reports_a_directory_the_template_does_not_deploy(template, tmp_path):
    for name in {function_dir(r) for r in functions(template).values()} | {"orphan"}:
        (tmp_path / name).mkdir()

    mismatches = function_directory_mismatches(template, tmp_path)

    assert mismatches == {"not_in_template": {"orphan"}, "missing_directory": set()}


def test_the_directory_check_reports_a_function_without_its_directory(template, tmp_path):
    for name in {function_dir(r) for r in functions(template).values()} - {"typing"}:
        (tmp_path / name).mkdir()

    mismatches = function_directory_mismatches(template, tmp_path)

    assert mismatches == {"not_in_template": set(), "missing_directory": {"typing"}}


def test_every_function_reads_only_the_shared_least_privilege_policies(template):
    allowed = {
        "ConnectionsManagePolicy",
        "JwtSecretReadPolicy",
        "DatabaseSecretReadPolicy",
        "AttachmentsReadPolicy",
        "AttachmentsUploadPolicy",
        "AttachmentsLinkPolicy",
        "AttachmentsExpirePolicy",
    }
    for name, resource in functions(template).items():
        for policy in resource["Properties"].get("Policies", []):
            if "Fn::If" in policy:
                condition, chosen, otherwise = policy["Fn::If"]
                assert otherwise == {"Ref": "AWS::NoValue"}
                # Each conditional policy exists exactly when its condition holds.
                assert template["Resources"][chosen["Ref"]]["Condition"] == condition
                policy = chosen
            assert policy["Ref"] in allowed, (name, policy)


def test_the_connections_policy_covers_this_api_stage_and_nothing_else(template):
    policy = template["Resources"]["ConnectionsManagePolicy"]["Properties"]["PolicyDocument"]

    (statement,) = policy["Statement"]
    assert statement["Action"] == "execute-api:ManageConnections"
    assert statement["Resource"]["Fn::Sub"].endswith(":${WebSocketApi}/${Stage}/*/@connections/*")


def test_only_the_functions_that_check_tokens_may_read_the_jwt_secret(template):
    readers = {
        function_dir(r)
        for r in functions(template).values()
        if {"Ref": "JwtSecretReadPolicy"} in r["Properties"].get("Policies", [])
    }

    assert readers == {"connect", "auth", "rest"}


# --- WebSocket API ------------------------------------------------------------


def test_every_wire_action_has_a_route_to_its_function(template):
    routes = routes_by_key(template)

    assert set(routes) == set(WIRE_ACTIONS)
    for key, (_, route) in routes.items():
        integration = template["Resources"][sub_reference(route["Properties"]["Target"])]
        assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
        function_name = aliased_function(sub_reference(integration["Properties"]["IntegrationUri"]))
        assert template["Resources"][function_name]["Type"] == "AWS::Serverless::Function", key


def test_routes_that_ack_are_two_way_and_the_others_are_not(template):
    routes = routes_by_key(template)
    responses = {
        r["Properties"]["RouteId"]["Ref"]: r["Properties"]["RouteResponseKey"]
        for r in resources_of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()
    }

    for key, acks in WIRE_ACTIONS.items():
        name, route = routes[key]
        selection = route["Properties"].get("RouteResponseSelectionExpression")
        if acks:
            assert (selection, responses.get(name)) == ("$default", "$default"), key
        else:
            assert (selection, responses.get(name)) == (None, None), key


def test_api_gateway_may_invoke_every_websocket_function(template):
    permitted = {
        r["Properties"]["FunctionName"]["Ref"]
        for r in resources_of_type(template, "AWS::Lambda::Permission").values()
        if r["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    targets = {
        sub_reference(i["Properties"]["IntegrationUri"])
        for i in resources_of_type(template, "AWS::ApiGatewayV2::Integration").values()
    }

    assert targets <= permitted


def test_the_websocket_api_selects_routes_by_action_on_an_auto_deployed_stage(template):
    api = template["Resources"]["WebSocketApi"]
    stage = template["Resources"]["WebSocketStage"]

    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert stage["Properties"]["AutoDeploy"] is True


def test_the_rest_function_serves_the_http_api_under_api(template):
    (_name, route) = routes_by_key(template, api="HttpApi")["ANY /api/{proxy+}"]
    integration = template["Resources"][sub_reference(route["Properties"]["Target"])]
    permission = template["Resources"]["RestPermission"]["Properties"]

    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert aliased_function(sub_reference(integration["Properties"]["IntegrationUri"])) == (
        "RestFunction"
    )
    assert permission["FunctionName"] == {"Ref": "RestFunctionAliaslive"}
    assert permission["SourceArn"]["Fn::Sub"].endswith(":${HttpApi}/*/*/api/*")
    assert template["Resources"]["HttpApiStage"]["Properties"]["StageName"] == "$default"


# --- events -------------------------------------------------------------------


def test_every_consumed_topic_is_in_the_catalog(template):
    from parley.events.catalog import BY_NAME

    for name, resource in kafka_consumers(template).items():
        for event in kafka_events(resource):
            (topic,) = event["Properties"]["Topics"]  # Lambda takes one topic per event source
            assert topic in BY_NAME, (name, topic)


def test_each_consumer_the_catalog_implies_has_its_kafka_event_sources(template):
    from parley.events.catalog import DERIVED_TOPICS

    implied = {
        CONSUMER_OF_CATEGORY[topic.split(".")[0]]
        for topic in DERIVED_TOPICS
        if topic.split(".")[0] in CONSUMER_OF_CATEGORY
    }
    consuming = {function_dir(r) for r in kafka_consumers(template).values()}

    assert implied == {"analytics", "audit", "notifications"}
    assert implied <= consuming


def test_each_consumer_comes_as_an_msk_and_a_self_managed_variant_chosen_by_condition(template):
    variants: dict[str, dict[str, Any]] = {}
    for resource in kafka_consumers(template).values():
        (kind,) = {e["Type"] for e in kafka_events(resource)}
        subscriptions = sorted(
            (e["Properties"]["Topics"][0], e["Properties"]["ConsumerGroupId"])
            for e in kafka_events(resource)
        )
        variants.setdefault(function_dir(resource), {})[kind] = (
            resource["Condition"],
            subscriptions,
        )

    for consumer, by_kind in variants.items():
        assert by_kind["MSK"][0] == "UseMsk", consumer
        assert by_kind["SelfManagedKafka"][0] == "UseSelfManagedKafka", consumer
        assert by_kind["MSK"][1] == by_kind["SelfManagedKafka"][1], consumer


def test_consumer_group_ids_are_unique_among_the_event_sources_that_coexist(template):
    for condition in ("UseMsk", "UseSelfManagedKafka"):
        groups = [
            event["Properties"]["ConsumerGroupId"]
            for resource in kafka_consumers(template).values()
            if resource["Condition"] == condition
            for event in kafka_events(resource)
        ]
        assert len(groups) == len(set(groups)), condition


def test_the_msk_condition_follows_the_cluster_arn(template):
    conditions = template["Conditions"]

    assert conditions["HasMskCluster"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MskClusterArn"}, ""]}]
    }
    assert {"Condition": "HasMskCluster"} in conditions["UseMsk"]["Fn::And"]
    assert {"Fn::Not": [{"Condition": "HasMskCluster"}]} in conditions["UseSelfManagedKafka"][
        "Fn::And"
    ]


def test_the_relay_runs_every_minute(template):
    relay = template["Resources"]["RelayFunction"]["Properties"]
    (event,) = relay["Events"].values()

    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}


# --- attachments ---------------------------------------------------------------


def _holders(template: dict[str, Any], policy: str) -> set[str]:
    return {
        function_dir(r)
        for r in functions(template).values()
        if {"Ref": policy} in r["Properties"].get("Policies", [])
    }


def test_the_attachments_bucket_is_encrypted_private_and_open_to_browser_uploads(template):
    bucket = template["Resources"]["AttachmentsBucket"]["Properties"]

    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]
    assert {"POST", "GET"} <= set(cors["AllowedMethods"])
    assert template["Globals"]["Function"]["Environment"]["Variables"]["ATTACHMENTS_BUCKET"] == {
        "Ref": "AttachmentsBucket"
    }


def test_uploads_no_message_links_expire_by_their_pending_tag(template):
    from parley.storage import PENDING_TAG_KEY, PENDING_TAG_VALUE

    rules = template["Resources"]["AttachmentsBucket"]["Properties"]["LifecycleConfiguration"]
    (expiry,) = [rule for rule in rules["Rules"] if "TagFilters" in rule]
    assert expiry["Status"] == "Enabled"
    assert expiry["TagFilters"] == [{"Key": PENDING_TAG_KEY, "Value": PENDING_TAG_VALUE}]
    assert "Prefix" not in expiry  # never every object: only the unlinked ones


def test_the_cleanup_of_unlinked_uploads_runs_on_a_schedule(template):
    cleanup = template["Resources"]["AttachmentsCleanupFunction"]["Properties"]
    (event,) = cleanup["Events"].values()

    assert event["Type"] == "Schedule"
    assert cleanup["CodeUri"] == "functions/attachments_cleanup/"


def test_each_s3_right_goes_to_the_functions_that_need_it_only(template):
    statements = {
        name: template["Resources"][name]["Properties"]["PolicyDocument"]["Statement"]
        for name in (
            "AttachmentsReadPolicy",
            "AttachmentsUploadPolicy",
            "AttachmentsLinkPolicy",
            "AttachmentsExpirePolicy",
        )
    }
    for name, (statement,) in statements.items():
        assert statement["Effect"] == "Allow", name
        assert statement["Resource"] == {"Fn::Sub": "${AttachmentsBucket.Arn}/chats/*"}, name
        assert "*" not in str(statement["Action"]), name

    assert _holders(template, "AttachmentsUploadPolicy") == {"rest"}
    assert _holders(template, "AttachmentsLinkPolicy") == {"message"}
    assert _holders(template, "AttachmentsExpirePolicy") == {"attachments_cleanup"}
    readers = _holders(template, "AttachmentsReadPolicy")
    # The fan-out signs the URLs a big group's message carries (events have none).
    assert {"rest", "message", "forward", "ping", "fanout"} <= readers
    assert readers.isdisjoint({"connect", "disconnect", "auth", "relay", "migrate"})


# --- migration and outputs ------------------------------------------------------


def test_the_migration_runs_on_every_deploy_that_changes_the_layer_or_the_deploy_id(template):
    migration = template["Resources"]["DatabaseMigration"]

    assert migration["Type"] == "Custom::DatabaseMigration"
    assert migration["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    assert migration["Properties"]["ParleyLayerVersion"] == {"Ref": "ParleyLayer"}
    assert migration["Properties"]["DeployId"] == {"Ref": "DeployId"}


@pytest.mark.parametrize(
    ("output", "scheme", "suffix"),
    [
        ("WebSocketUrl", "wss://${WebSocketApi}.", "/${Stage}"),
        ("HttpApiUrl", "https://${HttpApi}.", "/api"),
        ("ConnectionsUrl", "https://${WebSocketApi}.", "/${Stage}/@connections"),
    ],
)
def test_the_stack_outputs_its_endpoints(template, output, scheme, suffix):
    value = template["Outputs"][output]["Value"]["Fn::Sub"]

    assert value.startswith(scheme)
    assert value.endswith(suffix)
