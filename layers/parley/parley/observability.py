"""Logger, tracer and metrics: one instance each, imported everywhere."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "parley")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Parley")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
