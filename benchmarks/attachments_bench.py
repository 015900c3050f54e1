"""Attachments: what linking a file costs a send, and what the pieces around it cost.

On embedded PostgreSQL, Redis and S3 (moto's server, over HTTP on loopback),
started here in a temporary directory:
  - send:      the `message` handler invoked directly (real event; @connections
               replaced by a no-op client), a text message against a message
               with one image already uploaded (the check reads the first
               64 KB of the object, then drops its tag: two S3 requests);
  - presign:   one presigned GET (what every attachment on the wire costs);
  - issue:     POST /api/chats/{id}/attachments through the REST handler
               (Mangum + FastAPI; a row and a presigned POST);
  - upload:    the browser's part: a 100 KB form POST to the S3 server.

    .venv/bin/python benchmarks/attachments_bench.py [-n 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra"), str(ROOT)]
os.chdir(ROOT)

from harness import flooding_environment, local_stack, report, timed  # noqa: E402
from realtime_bench import direct_message_handler  # noqa: E402


def run(n: int) -> dict[str, dict[str, float]]:
    import httpx

    from parley import storage
    from parley.auth.tokens import issue_token
    from parley.chat.attachments import issue_upload
    from parley.db.session import session_scope
    from parley_dev.cli import lambda_context, load_function
    from tests.support.images import png

    handler, event, sender, chat = direct_message_handler()
    image = png(800, 600)
    big = b"x" * 100_000
    http = httpx.Client(timeout=10)

    def upload(content: bytes, content_type: str) -> str:
        with session_scope() as session:
            issued = issue_upload(
                session, chat, sender, filename="f", content_type=content_type, size=len(content)
            )
        form = issued["upload"]
        answer = http.post(form["url"], data=form["fields"], files={"file": ("f", content)})
        assert answer.status_code == 204, answer.text
        return issued["attachmentId"]

    def send(index: int, attachments: list[str]) -> None:
        data = {"chatId": str(chat), "body": f"message {index}", "attachments": attachments}
        event["body"] = json.dumps({"action": "message", "requestId": str(index), "data": data})
        response = handler(event, lambda_context("message"))
        assert '"status": "ok"' in response["body"], response

    uploaded = iter([upload(image, "image/png") for _ in range(n + min(20, n))])
    results = {
        "send_text": timed(n, lambda i: send(i, [])),
        "send_with_image": timed(n, lambda i: send(i, [next(uploaded)])),
        "presign_get": timed(
            n,
            lambda i: storage.presigned_get(f"chats/{chat}/{i}", "f.png", "image/png", inline=True),
        ),
    }

    rest = load_function("rest")
    token = issue_token(sender)[0]
    rest_event = json.loads((ROOT / "tests" / "events" / "http_get_chats.json").read_text())
    rest_event.update(
        routeKey="ANY /api/{proxy+}",
        rawPath=f"/api/chats/{chat}/attachments",
        body=json.dumps({"filename": "a.png", "contentType": "image/png", "size": 1000}),
        isBase64Encoded=False,
    )
    rest_event["headers"] = {
        **rest_event.get("headers", {}),
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
    }
    rest_event["requestContext"]["http"].update(
        method="POST", path=f"/api/chats/{chat}/attachments"
    )

    def issue(_index: int) -> None:
        response = rest(rest_event, lambda_context("rest"))
        assert response["statusCode"] == 201, response

    results["issue_upload_rest"] = timed(n, issue)
    results["upload_100kb_to_s3"] = timed(min(n, 100), lambda i: upload(big, "application/zip"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    args = parser.parse_args()

    flooding_environment()
    with local_stack(topics=False):
        import logging
        import warnings

        warnings.simplefilter("ignore")
        logging.getLogger("parley").setLevel(logging.WARNING)
        results = {
            "machine": f"{os.cpu_count()} vCPU, Python {platform.python_version()}",
            "load": f"{os.getloadavg()[0]:.1f} (1-min load average at start)",
            **run(args.n),
        }
    report(results, args.out)


if __name__ == "__main__":
    main()
