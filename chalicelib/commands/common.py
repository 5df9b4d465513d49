"""What the commands share: the AWS stage options and their guard, the ops API client, tables and JSON out."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, TextIO

from chalicelib.cli import CliError

LOCAL_STAGES = ("local", "test")


def aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS")
    group.add_argument(
        "--stage",
        help="the stage whose resources to use (default: $STAGE, else local); a stage "
        "other than local or test is touched only when named here",
    )
    group.add_argument(
        "--endpoint-url",
        help="the AWS endpoint (the local stack's moto, as make run prints it; default: $AWS_ENDPOINT_URL)",
    )


def use_stage(args: argparse.Namespace) -> str:
    """Point every AWS client at the chosen stage and endpoint, or refuse: a deployed stage only when named with
    ``--stage`` (never from the environment alone), a local stage only on a local endpoint (never a real account's
    ``local`` tables)."""
    stage = args.stage or os.environ.get("STAGE") or "local"
    if stage not in LOCAL_STAGES and not args.stage:
        raise CliError(f"STAGE={stage} is a deployed stage: name it with --stage {stage} to touch it")
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if stage in LOCAL_STAGES and not endpoint:
        raise CliError(
            f"stage {stage} lives on the local stack: give --endpoint-url (make run prints it) or AWS_ENDPOINT_URL"
        )
    os.environ["STAGE"] = stage
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    if stage in LOCAL_STAGES and not any(os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")):
        # the local stack is moto, which takes any signature: a shell that never held AWS keys (make run needs
        # none) still signs its calls, with the dummy keys make run's own processes use
        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    from chalicelib import bootstrap

    bootstrap.reset()  # adapters built for another stage or endpoint are forgotten
    return stage


def api_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ops API")
    group.add_argument(
        "--api-url",
        help="the ops API (default: $SOCIAL_RESPONSE_API_URL, else http://127.0.0.1:$API_PORT as make run serves it)",
    )
    group.add_argument(
        "--token", help="a bearer token (default: $SOCIAL_RESPONSE_TOKEN); its name is the actor on the audit trail"
    )


def api(
    args: argparse.Namespace, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[Any, dict[str, str]]:
    """Call the ops API; its answer and headers, or :class:`CliError` with the API's error."""
    import urllib.error
    import urllib.request

    base = (
        args.api_url
        or os.environ.get("SOCIAL_RESPONSE_API_URL")
        or f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}"
    ).rstrip("/")
    token = args.token or os.environ.get("SOCIAL_RESPONSE_TOKEN")
    if not token:
        raise CliError("give --token or SOCIAL_RESPONSE_TOKEN (an ops token: social-response ops-token create)")
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data, sent["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the operator's own URL
            return json.loads(answer.read() or b"null"), dict(answer.headers)
    except urllib.error.HTTPError as refused:
        try:
            message = json.loads(refused.read())["error"]
        except (ValueError, KeyError, TypeError):
            message = refused.reason
        raise CliError(f"{method} {path}: {refused.code} {message}") from None
    except urllib.error.URLError as unreachable:
        raise CliError(f"cannot reach the ops API at {base}: {unreachable.reason}") from None


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")


def table(stdout: TextIO, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain text table: a header, one line per row, columns as wide as their widest value."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    stdout.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for line in cells:
        stdout.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    return " ".join(str(value).split())[:60]


def emit(stdout: TextIO, value: Any) -> None:
    stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
