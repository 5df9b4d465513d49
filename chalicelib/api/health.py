"""``GET /health``: 200 once the store, the queues and (locally) the worker answer; 503 naming what does not."""

from __future__ import annotations

import os

from chalice import Blueprint, Response

from chalicelib.api.responses import ANY_CONTENT_TYPE, json_response

health = Blueprint(__name__)


def _names(suffix: str) -> list[str]:
    from dataclasses import fields

    from chalicelib.settings import resources

    names = resources()
    return [getattr(names, f.name) for f in fields(names) if f.name.endswith(suffix)]


def _check_tables() -> str | None:
    from chalicelib.bootstrap import readiness

    return readiness().table_problem(_names("_table"))


def _check_queues() -> str | None:
    from chalicelib.bootstrap import readiness

    return readiness().queue_problem(_names("_queue") + _names("_dlq"))


def _check_worker() -> str | None:
    # Only the local stack has a worker standing in for Lambda's event source mappings.
    url = os.environ.get("LOCAL_WORKER_URL")
    if not url:
        return None
    import urllib.request  # only here: the deployed API never needs it (cold start)

    with urllib.request.urlopen(f"{url}/ready", timeout=2) as answer:  # noqa: S310 (loopback only)
        return None if answer.status == 200 else f"worker answered {answer.status}"


CHECKS = {"tables": _check_tables, "queues": _check_queues, "worker": _check_worker}


@health.route("/health", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def get_health() -> Response:
    problems: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            problem = check()
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported by name
            problem = type(error).__name__
        if problem:
            problems[name] = problem
    if problems:
        return json_response({"status": "unavailable", "problems": problems}, 503)
    return json_response({"status": "ok", "checks": sorted(CHECKS)})
