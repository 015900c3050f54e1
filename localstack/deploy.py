"""Build and deploy template.yaml on LocalStack, the same template as on AWS.

    pip install aws-sam-cli-local awscli-local      # samlocal and awslocal
    docker compose -f localstack/docker-compose.yml up -d
    python localstack/deploy.py                      # free edition
    python localstack/deploy.py --edition pro --subnet-ids subnet-1 --security-group-ids sg-1
    python localstack/deploy.py --dry-run            # print every call, run none

The free edition gets everything but API Gateway v2 and the Kafka event
sources (see localstack/README.md); `--edition pro` deploys those too.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ".aws-sam/localstack"

# The servers docker-compose.yml runs next to LocalStack, as the Lambda
# containers (on the same Docker network) reach them.
NETWORK_SERVICES = {
    "DatabaseUrl": "postgresql+psycopg://parley:parley@postgres:5432/parley",
    "RedisUrl": "redis://redis:6379/0",
    "KafkaBootstrapServers": "kafka:9092",
}
TOOLS = {"samlocal": "aws-sam-cli-local", "awslocal": "awscli-local"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=["free", "pro"], default="free")
    parser.add_argument("--stack-name", default="parley")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--jwt-secret-name", default="parley/jwt-secret")
    parser.add_argument("--subnet-ids", default="", help="pro: subnets of the Kafka event sources")
    parser.add_argument("--security-group-ids", default="", help="pro: their security groups")
    parser.add_argument("--deploy-id", default=None, help="default: the current time")
    parser.add_argument("--dry-run", action="store_true", help="print the calls, make none")
    args = parser.parse_args(argv)
    if args.edition == "pro" and not (args.subnet_ids and args.security_group_ids):
        parser.error(
            "--edition pro deploys self-managed Kafka event sources: "
            "give --subnet-ids and --security-group-ids (LocalStack's default VPC)"
        )
    return args


def parameter_overrides(args: argparse.Namespace) -> list[str]:
    parameters = {
        **NETWORK_SERVICES,
        "JwtSecretName": args.jwt_secret_name,
        "LogLevel": "DEBUG",
        "DeployId": args.deploy_id or str(int(time.time())),
    }
    if args.edition == "pro":
        parameters |= {
            "KafkaEventSources": "Enabled",
            "SubnetIds": args.subnet_ids,
            "SecurityGroupIds": args.security_group_ids,
        }
    else:
        parameters["KafkaEventSources"] = "Disabled"
    return [f"{name}={value}" for name, value in parameters.items()]


def planned_calls(args: argparse.Namespace) -> list[list[str]]:
    region = ["--region", args.region]
    return [
        # The init hook made this secret: LocalStack is up and initialised.
        [
            "awslocal",
            "secretsmanager",
            "describe-secret",
            "--secret-id",
            args.jwt_secret_name,
            *region,
        ],
        ["samlocal", "build", "--template-file", "template.yaml", "--build-dir", BUILD_DIR],
        [
            "samlocal",
            "deploy",
            "--template-file",
            f"{BUILD_DIR}/template.yaml",
            "--stack-name",
            args.stack_name,
            *region,
            "--resolve-s3",
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            *parameter_overrides(args),
        ],
        [
            "awslocal",
            "cloudformation",
            "describe-stacks",
            "--stack-name",
            args.stack_name,
            *region,
            "--query",
            "Stacks[0].Outputs",
            "--output",
            "table",
        ],
        [
            "awslocal",
            "lambda",
            "list-functions",
            *region,
            "--query",
            "Functions[].FunctionName",
            "--output",
            "table",
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    calls = planned_calls(args)
    if args.dry_run:
        for call in calls:
            print("+ " + shlex.join(call))
        return 0
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        print(
            f"deploy.py needs samlocal and awslocal: pip install {' '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    for call in calls:
        print("+ " + shlex.join(call), flush=True)
        if subprocess.run(call, cwd=ROOT).returncode != 0:
            if call[1] == "secretsmanager":
                print(
                    "LocalStack is not up, or its init hook failed: "
                    "docker compose -f localstack/docker-compose.yml up -d, "
                    "then docker compose -f localstack/docker-compose.yml logs localstack",
                    file=sys.stderr,
                )
            return 1
    if args.edition == "free":
        print(
            "\nThe free edition has no API Gateway v2: invoke the functions directly, e.g.\n"
            "  awslocal lambda invoke --function-name <ConnectFunction name> "
            "--payload fileb://tests/events/<event>.json out.json\n"
            "or serve them locally behind the dev gateway: make run (see localstack/README.md)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
