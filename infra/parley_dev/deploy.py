"""`parley-dev deploy --target localstack`: template.yaml into LocalStack, through CloudFormation.

What `sam deploy` does, against LocalStack: each code directory the
template deploys is zipped (the same files give the same bytes) into an
artifacts bucket, the template points at those objects, and a change set
made with the SAM transform is executed. A deploy that changes nothing
executes nothing: the stack stays as it was.

LocalStack's free edition lacks API Gateway v2 and Kafka event sources, and
without Docker it cannot run a function at all; the template's `Functions`,
`ApiGateway` and `KafkaEventSources` parameters leave those parts out. The
resources whose condition is false are dropped before the template is sent:
LocalStack 4.9's CloudFormation engine resolves the references of resources
it will not create (a function's role, say) and fails the change set on
them. CloudFormation still evaluates every condition of what is sent.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley_dev.gateway.cfn import Resolver, load_template

ARTIFACTS_BUCKET = "parley-deploy-artifacts"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# CloudFormation takes a template body up to this size; a larger one goes by S3.
_MAX_TEMPLATE_BODY = 51_200
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_TIMEOUT_SECONDS = 600.0


class DeployError(RuntimeError):
    """The deploy failed; the message says which resource and why."""


@dataclass
class DeployResult:
    stack_name: str
    status: str
    # (action, logical id, type) of each change executed; empty for a no-op.
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


# --- the template -------------------------------------------------------------


def without_false_conditions(
    template: dict[str, Any], parameters: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The template less the resources and outputs whose condition is false; their ids."""
    resolver = Resolver.for_template(template, dict(parameters))
    kept = copy.deepcopy(template)
    left_out = []
    for section in ("Resources", "Outputs"):
        for logical_id, entry in list((kept.get(section) or {}).items()):
            condition = (entry or {}).get("Condition")
            if condition and not resolver.condition(condition):
                del kept[section][logical_id]
                if section == "Resources":
                    left_out.append(logical_id)
    return kept, left_out


def zip_directory(directory: Path) -> bytes:
    """The directory as a zip: sorted entries, fixed dates, no bytecode; same files, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_dir() or _SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(relative.as_posix(), _ZIP_DATE)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def package(
    template: dict[str, Any],
    base_dir: Path,
    upload: Callable[[str, bytes], dict[str, str]],
) -> dict[str, Any]:
    """Local code directories replaced by the S3 objects `upload` put them in."""
    packaged = copy.deepcopy(template)
    for resource in (packaged.get("Resources") or {}).values():
        properties = resource.get("Properties") or {}
        key = {
            "AWS::Serverless::Function": "CodeUri",
            "AWS::Serverless::LayerVersion": "ContentUri",
        }.get(resource.get("Type"))
        if key and isinstance(properties.get(key), str):
            directory = (base_dir / properties[key]).resolve()
            if not directory.is_dir():
                raise DeployError(f"{properties[key]}: no such directory next to the template")
            if key == "ContentUri" and not (directory / "python").is_dir():
                # Lambda finds a Python layer's modules under python/; a build puts them there.
                raise DeployError(
                    f"{properties[key]} is the layer's source, not a build: run `sam build` "
                    "and deploy its template (--template .aws-sam/build/template.yaml)"
                )
            data = zip_directory(directory)
            properties[key] = upload(f"{hashlib.sha256(data).hexdigest()}.zip", data)
    return packaged


# --- CloudFormation -----------------------------------------------------------


class Deployer:
    """One stack in one CloudFormation (LocalStack's), through change sets."""

    def __init__(self, endpoint: str, on_step: Callable[[str], None] = lambda _line: None):
        from parley_dev.localstack import client

        self.endpoint = endpoint
        self.cloudformation = client("cloudformation", endpoint)
        self.s3 = client("s3", endpoint)
        self.on_step = on_step

    def upload(self, key: str, data: bytes) -> dict[str, str]:
        """An object in the artifacts bucket, put only if it is not there already."""
        try:
            self.s3.head_bucket(Bucket=ARTIFACTS_BUCKET)
        except self.s3.exceptions.ClientError:
            self.s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        try:
            self.s3.head_object(Bucket=ARTIFACTS_BUCKET, Key=key)
        except self.s3.exceptions.ClientError:
            self.s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=data)
            self.on_step(f"uploaded s3://{ARTIFACTS_BUCKET}/{key} ({len(data) // 1024} KiB)")
        return {"Bucket": ARTIFACTS_BUCKET, "Key": key}

    def stack_status(self, stack_name: str) -> str | None:
        try:
            (stack,) = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except self.cloudformation.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return stack["StackStatus"]

    def deploy(
        self,
        template_path: Path,
        stack_name: str,
        parameters: Mapping[str, str],
    ) -> DeployResult:
        template = load_template(template_path)
        declared = template.get("Parameters") or {}
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise DeployError(f"{template_path.name} declares no parameter {', '.join(unknown)}")
        kept, left_out = without_false_conditions(template, parameters)
        packaged = package(kept, template_path.parent, self.upload)
        status = self._clear_failed_create(stack_name)
        kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        change_set = self._change_set(stack_name, kind, packaged, parameters)
        result = DeployResult(stack_name, status or "", left_out=left_out)
        if change_set is None:
            result.status = self.stack_status(stack_name) or ""
            result.outputs = self._outputs(stack_name)
            return result
        result.changes = [
            (
                change["ResourceChange"]["Action"],
                change["ResourceChange"]["LogicalResourceId"],
                change["ResourceChange"]["ResourceType"],
            )
            for change in change_set.get("Changes", [])
        ]
        self.cloudformation.execute_change_set(
            StackName=stack_name, ChangeSetName=change_set["ChangeSetName"]
        )
        result.status = self._wait_for_stack(stack_name)
        result.outputs = self._outputs(stack_name)
        return result

    def _clear_failed_create(self, stack_name: str) -> str | None:
        """A stack whose creation failed can only be deleted: delete it, start again."""
        status = self.stack_status(stack_name)
        if status == "ROLLBACK_COMPLETE":
            self.on_step(f"stack {stack_name} failed to create before: deleting it")
            self.cloudformation.delete_stack(StackName=stack_name)
            self._wait_until(lambda: self.stack_status(stack_name) in (None, "DELETE_COMPLETE"))
            return None
        return None if status == "DELETE_COMPLETE" else status

    def _template_argument(self, packaged: dict[str, Any]) -> dict[str, str]:
        body = json.dumps(packaged, separators=(",", ":"), sort_keys=True)
        if len(body) <= _MAX_TEMPLATE_BODY:
            return {"TemplateBody": body}
        location = self.upload(
            f"{hashlib.sha256(body.encode()).hexdigest()}.template.json", body.encode()
        )
        return {"TemplateURL": f"{self.endpoint}/{location['Bucket']}/{location['Key']}"}

    def _change_set(
        self,
        stack_name: str,
        kind: str,
        packaged: dict[str, Any],
        parameters: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """The change set, ready to execute; None when it would change nothing."""
        name = f"parley-{time.time_ns()}"
        self.cloudformation.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=kind,
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()
            ],
            Capabilities=CAPABILITIES,
            **self._template_argument(packaged),
        )
        described: dict[str, Any] = {}

        def settled() -> bool:
            nonlocal described
            described = self.cloudformation.describe_change_set(
                StackName=stack_name, ChangeSetName=name
            )
            return described["Status"] in ("CREATE_COMPLETE", "FAILED")

        self._wait_until(settled)
        reason = described.get("StatusReason") or ""
        nothing = kind == "UPDATE" and (
            any(text in reason for text in _NO_CHANGES)
            or (described["Status"] == "CREATE_COMPLETE" and not described.get("Changes"))
        )
        if nothing:
            self.cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)
            return None
        if described["Status"] == "FAILED":
            raise DeployError(f"the change set failed: {reason}")
        return described

    def _wait_for_stack(self, stack_name: str) -> str:
        status = ""

        def settled() -> bool:
            nonlocal status
            status = self.stack_status(stack_name) or "DELETE_COMPLETE"
            return not status.endswith("_IN_PROGRESS")

        self._wait_until(settled)
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise DeployError(f"stack {stack_name}: {status}; {self._failures(stack_name)}")
        return status

    def _failures(self, stack_name: str) -> str:
        events = self.cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        failed = [
            f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
            for event in events
            if event["ResourceStatus"].endswith("_FAILED")
        ]
        return "; ".join(failed) or "no resource reported why"

    def _outputs(self, stack_name: str) -> dict[str, str]:
        (stack,) = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    @staticmethod
    def _wait_until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + _TIMEOUT_SECONDS
        while not done():
            if time.monotonic() > deadline:
                raise DeployError(f"CloudFormation did not settle in {_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.25)


# --- what LocalStack gets -------------------------------------------------------


def localstack_parameters(
    endpoint: str,
    functions: bool,
    overrides: Mapping[str, str],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The free edition's parameters, the secrets `up --aws localstack` seeded, then overrides."""
    from parley_dev.localstack import DATABASE_SECRET_NAME, JWT_SECRET_NAME, client

    parameters = {
        "Functions": "Enabled" if functions else "Disabled",
        "ApiGateway": "Disabled",
        "KafkaEventSources": "Disabled",
        "JwtSecretName": environ.get("JWT_SECRET_NAME") or JWT_SECRET_NAME,
    }
    if "DatabaseUrl" not in overrides and "DatabaseSecretArn" not in overrides:
        secrets = client("secretsmanager", endpoint)
        try:
            secret = secrets.describe_secret(SecretId=DATABASE_SECRET_NAME)
        except secrets.exceptions.ResourceNotFoundException:
            raise DeployError(
                f"LocalStack at {endpoint} holds no {DATABASE_SECRET_NAME} secret: start the "
                "stack with `parley-dev up --aws localstack` (it seeds the secrets), or give "
                "--parameter DatabaseUrl=..."
            ) from None
        parameters["DatabaseSecretArn"] = secret["ARN"]
    return parameters | dict(overrides)


def localstack_endpoint(environ: Mapping[str, str] = os.environ) -> str:
    from parley_dev.localstack import port

    return (environ.get("LOCALSTACK_ENDPOINT") or f"http://127.0.0.1:{port(environ)}").rstrip("/")


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def add_parser(sub: Any) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="deploy template.yaml into LocalStack (CloudFormation with the SAM transform)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    deploy.add_argument("--target", choices=["localstack"], required=True)
    deploy.add_argument("--stack-name", default="parley")
    deploy.add_argument("--template", default="template.yaml", type=Path)
    deploy.add_argument(
        "--functions",
        action="store_true",
        help="deploy the functions, their layer and the migration too: only for a LocalStack "
        "that runs them in Docker (without Docker, functions never become Active)",
    )
    deploy.add_argument(
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="a template parameter, over what the target implies (repeatable)",
    )
    deploy.set_defaults(run=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    from parley_dev.localstack import health

    def step(line: str) -> None:
        print(f"  - {line}", flush=True)

    endpoint = localstack_endpoint()
    if health(endpoint) is None:
        print(
            f"parley-dev: no LocalStack answers at {endpoint}. Start one with "
            "`make run AWS=localstack` (or `parley-dev up --aws localstack`), or point "
            "LOCALSTACK_ENDPOINT at yours.",
            file=sys.stderr,
        )
        return 1
    started = time.monotonic()
    try:
        parameters = localstack_parameters(endpoint, args.functions, dict(args.parameter))
        print(f"Deploying {args.template} as stack {args.stack_name} into {endpoint}", flush=True)
        for name, value in parameters.items():
            step(f"{name}={value}")
        result = Deployer(endpoint, step).deploy(
            args.template.resolve(), args.stack_name, parameters
        )
    except DeployError as exc:
        print(f"parley-dev: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    if result.left_out:
        step(f"left out by the parameters: {len(result.left_out)} resources")
    if not result.changed:
        print(f"No change: stack {args.stack_name} stays {result.status} ({elapsed:.1f}s)")
    else:
        for action, logical_id, kind in result.changes:
            step(f"{action} {logical_id} ({kind})")
        print(f"Stack {args.stack_name}: {result.status} in {elapsed:.1f}s")
    for name, value in result.outputs.items():
        print(f"  {name:<24} {value}")
    return 0
