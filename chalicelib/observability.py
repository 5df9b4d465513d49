"""Powertools Logger and Metrics, one of each per process.

Structured JSON logs with the Lambda context and cold-start flag; metrics as CloudWatch EMF lines. Both are
wired into every handler by ``app.register_middleware`` in ``app.py`` (Chalice does not take decorators on
routes). Locally, set ``POWERTOOLS_METRICS_DISABLED=true`` to keep EMF lines out of the console.

Service and namespace come from ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE`` (set per stage in
``.chalice/config.json``), as Powertools documents; the defaults below only serve processes started without them
(the CLI, tests, tools).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

DEFAULT_SERVICE = "social-response"
DEFAULT_NAMESPACE = "SocialResponse"

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)

logger = Logger()
metrics = Metrics()
