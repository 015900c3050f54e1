"""localstack/: the deploy script's calls, the init hook's wiring, its topic creation."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
import uuid
from types import ModuleType

import pytest
import yaml

from tests.deploy.conftest import ROOT

LOCALSTACK = ROOT / "localstack"


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCALSTACK / "deploy.py"), "--dry-run", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def printed_calls(output: str) -> list[list[str]]:
    lines = output.splitlines()
    assert all(line.startswith("+ ") for line in lines), output
    return [shlex.split(line[2:]) for line in lines]


def parameters_of(deploy_call: list[str]) -> dict[str, str]:
    values = [deploy_call[i + 1] for i, arg in enumerate(deploy_call) if arg == "--parameter"]
    return dict(value.split("=", 1) for value in values)


@pytest.fixture(scope="module")
def kafka_topics() -> ModuleType:
    path = LOCALSTACK / "init" / "kafka_topics.py"
    spec = importlib.util.spec_from_file_location("localstack_kafka_topics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_the_build_then_the_deploy_of_what_it_built():
    result = dry_run("--deploy-id", "1735732800")

    assert result.returncode == 0, result.stderr
    build, deploy = printed_calls(result.stdout)
    assert build[:2] == ["sam", "build"]
    assert build[build.index("--template-file") + 1] == "template.yaml"
    built = build[build.index("--build-dir") + 1] + "/template.yaml"
    assert deploy[1:7] == [
        "-m",
        "parley_dev.cli",
        "deploy",
        "--target",
        "localstack",
        "--functions",
    ]
    assert deploy[deploy.index("--template") + 1] == built


def test_dry_run_for_the_free_edition_deploys_functions_on_the_compose_network():
    deploy = printed_calls(dry_run("--deploy-id", "7").stdout)[1]

    assert parameters_of(deploy) == {
        "DatabaseUrl": "postgresql+psycopg://parley:parley@postgres:5432/parley",
        "RedisUrl": "redis://redis:6379/0",
        "KafkaBootstrapServers": "kafka:9092",
        "JwtSecretName": "parley/jwt-secret",
        "LogLevel": "DEBUG",
        "DeployId": "7",
    }


def test_dry_run_for_the_pro_edition_wires_the_apis_and_the_kafka_event_sources():
    result = dry_run(
        "--edition", "pro", "--subnet-ids", "subnet-a,subnet-b", "--security-group-ids", "sg-1"
    )

    parameters = parameters_of(printed_calls(result.stdout)[1])
    assert (parameters["ApiGateway"], parameters["KafkaEventSources"]) == ("Enabled", "Enabled")
    assert (parameters["SubnetIds"], parameters["SecurityGroupIds"]) == (
        "subnet-a,subnet-b",
        "sg-1",
    )


def test_the_pro_edition_without_subnets_is_refused_with_the_reason():
    result = dry_run("--edition", "pro")

    assert result.returncode == 2
    assert "--subnet-ids" in result.stderr
    assert result.stdout == ""


def test_every_parameter_names_a_template_parameter_and_each_value_is_allowed(template):
    deploy = printed_calls(
        dry_run("--edition", "pro", "--subnet-ids", "s", "--security-group-ids", "g").stdout
    )[1]

    for name, value in parameters_of(deploy).items():
        parameter = template["Parameters"][name]
        assert value in parameter.get("AllowedValues", [value]), name


def test_the_init_hook_finds_the_files_the_compose_file_mounts():
    compose = yaml.safe_load((LOCALSTACK / "docker-compose.yml").read_text())
    hook = (LOCALSTACK / "init" / "ready.d" / "10-parley.sh").read_text()
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["localstack"]["volumes"])

    assert mounts["./init/ready.d"] == "/etc/localstack/init/ready.d"
    assert f"python3 {mounts['./init/kafka_topics.py']}" in hook
    assert f"{mounts['../layers/parley/parley/events']}/catalog.py" in hook
    assert (LOCALSTACK / "init" / "ready.d" / "10-parley.sh").stat().st_mode & 0o111


def test_the_topic_script_reads_the_whole_catalog(kafka_topics):
    from parley.events.catalog import TOPICS

    catalog = ROOT / "layers" / "parley" / "parley" / "events" / "catalog.py"

    assert kafka_topics.catalog_topics(catalog) == [topic.name for topic in TOPICS]


def test_the_topic_script_creates_missing_topics_and_reports_existing_ones(kafka_topics, stack):
    from confluent_kafka.admin import AdminClient

    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    fresh = f"deploy.check.{uuid.uuid4().hex[:8]}"

    outcome = kafka_topics.create_topics(bootstrap, ["message.created", fresh], partitions=2)

    assert outcome == {"message.created": "exists", fresh: "created"}
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    assert len(metadata.topics[fresh].partitions) == 2
