"""Build template.yaml and deploy it, functions and all, on the compose file's LocalStack.

    docker compose -f localstack/docker-compose.yml up -d
    .venv/bin/python localstack/deploy.py            # free edition: no API Gateway v2
    .venv/bin/python localstack/deploy.py --edition pro --subnet-ids S --security-group-ids G
    .venv/bin/python localstack/deploy.py --dry-run  # print every call, run none

LocalStack runs the functions in Docker containers on the compose network,
where they reach postgres:5432, redis:6379 and kafka:9092. `sam build`
(the SAM CLI, not a Parley dependency) puts each function's code and the
layer's dependencies, for arm64, under .aws-sam/localstack; `parley-dev
deploy` then deploys that build. Without Docker, use `parley-dev deploy
--target localstack` alone (see localstack/README.md).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=["free", "pro"], default="free")
    parser.add_argument("--stack-name", default="parley")
    parser.add_argument("--jwt-secret-name", default="parley/jwt-secret")
    parser.add_argument("--subnet-ids", default="", help="pro: subnets of the Kafka event sources")
    parser.add_argument("--security-group-ids", default="", help="pro: their security groups")
    parser.add_argument(
        "--deploy-id", default=None, help="any new value migrates even if the code is the same"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the calls, make none")
    args = parser.parse_args(argv)
    if args.edition == "pro" and not (args.subnet_ids and args.security_group_ids):
        parser.error(
            "--edition pro deploys self-managed Kafka event sources: "
            "give --subnet-ids and --security-group-ids (LocalStack's default VPC)"
        )
    return args


def parameters(args: argparse.Namespace) -> dict[str, str]:
    values = {
        **NETWORK_SERVICES,
        "JwtSecretName": args.jwt_secret_name,
        "LogLevel": "DEBUG",
    }
    if args.deploy_id:
        values["DeployId"] = args.deploy_id
    if args.edition == "pro":
        values |= {
            "ApiGateway": "Enabled",
            "KafkaEventSources": "Enabled",
            "SubnetIds": args.subnet_ids,
            "SecurityGroupIds": args.security_group_ids,
        }
    return values


def planned_calls(args: argparse.Namespace) -> list[list[str]]:
    deploy = [
        sys.executable,
        "-m",
        "parley_dev.cli",
        "deploy",
        "--target",
        "localstack",
        "--functions",
        "--template",
        f"{BUILD_DIR}/template.yaml",
        "--stack-name",
        args.stack_name,
    ]
    for name, value in parameters(args).items():
        deploy += ["--parameter", f"{name}={value}"]
    return [
        ["sam", "build", "--template-file", "template.yaml", "--build-dir", BUILD_DIR],
        deploy,
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    calls = planned_calls(args)
    if args.dry_run:
        for call in calls:
            print("+ " + shlex.join(call))
        return 0
    if shutil.which("sam") is None:
        print("deploy.py builds with the SAM CLI: pip install aws-sam-cli", file=sys.stderr)
        return 1
    for call in calls:
        print("+ " + shlex.join(call), flush=True)
        if subprocess.run(call, cwd=ROOT).returncode != 0:
            return 1
    if args.edition == "free":
        print(
            "\nThe free edition has no API Gateway v2: invoke the functions directly, e.g.\n"
            "  awslocal lambda invoke --function-name <RestFunction name> "
            "--payload fileb://tests/events/http_get_health.json out.json\n"
            "or serve the same code behind the dev gateway (see localstack/README.md)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
