"""Powertools Logger and Metrics, one of each per process.

Structured JSON logs with the Lambda context and cold-start flag; metrics as CloudWatch EMF lines. Both are
wired into every handler by ``app.register_middleware`` in ``app.py`` (Chalice does not take decorators on
routes). Locally, set ``POWERTOOLS_METRICS_DISABLED=true`` to keep EMF lines out of the console.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "social-response"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="SocialResponse", service=SERVICE)
