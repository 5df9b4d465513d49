"""What the commands share: the AWS stage options and their guard, the ops API client, tables and JSON out, and
the offline commands' reading of a JSONL mention (``classify`` and ``detect-surges`` classify it one way)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chalicelib.cli import CliError
from chalicelib.domain import limits
from chalicelib.domain.text_safety import escape_json_controls, printable

if TYPE_CHECKING:
    from chalicelib.domain.classification import Classification
    from chalicelib.domain.models import Mention
    from chalicelib.domain.plan import ResponsePlan
    from chalicelib.domain.signals import TextSignals

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
        help="the AWS endpoint (default: $AWS_ENDPOINT_URL, else for the local stage make run's moto at "
        "http://127.0.0.1:$MOTO_PORT, 5000)",
    )


def use_stage(args: argparse.Namespace) -> str:
    """Point every AWS client at the chosen stage and endpoint, or refuse: a deployed stage only when named with
    ``--stage`` (never from the environment alone), a local stage only on a local endpoint (never a real account's
    ``local`` tables)."""
    stage = args.stage or os.environ.get("STAGE") or "local"
    if stage not in LOCAL_STAGES and not args.stage:
        raise CliError(f"STAGE={stage} is a deployed stage: name it with --stage {stage} to touch it")
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if stage == "local" and not endpoint:
        # the local stage lives on make run's moto, where make run serves it (MOTO_PORT, as make run reads it)
        endpoint = f"http://127.0.0.1:{os.environ.get('MOTO_PORT') or '5000'}"
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
    """One table cell, on one line and without control characters: cells hold authors' words (a description, a
    handle, a mention's text), and an ESC or BEL in them must not reach the operator's terminal."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return " ".join(printable(",".join(map(str, value))).split()) or "-"
    return " ".join(printable(value).split())[:60]


def emit(stdout: TextIO, value: Any) -> None:
    """``value`` as indented JSON: non-ASCII letters as they are, every control character escaped (``json`` escapes
    C0; DEL and C1, such as the one-byte CSI U+009B, are escaped here), so authors' words cannot drive the
    terminal."""
    stdout.write(escape_json_controls(json.dumps(value, indent=2, ensure_ascii=False, default=str)) + "\n")


# -- offline mentions (classify, detect-surges) ----------------------------------------------------------------
# A JSONL line comes from wherever a user got it (a dataset, an export), not from a signed webhook: the fields
# classification reads (text, title, platform and kind, the author's handle, reach and verification, rating,
# product) are taken as the generic webhook takes them, normalised where that is unambiguous and refused where it
# is not; the fields it does not read (created_at, url, in_reply_to's id, the author's id and name) are dropped
# when unusable, so they never cost a line its classification.
UNKNOWN_PLATFORM = "unknown"
IGNORABLE = frozenset({("created_at",), ("url",), ("parent_id",), ("author", "id"), ("author", "name")})
"""Where a bad value is dropped rather than refused: nothing in classification reads it."""


def load_plan(path: str | None) -> ResponsePlan:
    """``--plan FILE``, else the bundled plan (as the local stack seeds it)."""
    from chalicelib.bootstrap import bundled_plan
    from chalicelib.domain.plan import PlanError, load_plan_yaml

    try:
        return load_plan_yaml(Path(path).read_text(encoding="utf-8")) if path else bundled_plan()
    except (OSError, UnicodeDecodeError, PlanError) as bad:
        raise CliError(f"--plan {path}: {bad}") from None


def platform_name(value: Any) -> str:
    """A line's ``platform`` as the generic webhook names it (:func:`limits.platform_name`); none -> ``unknown``
    (an offline line may leave it out: the webhook's body may not)."""
    if value is None or value == "":
        return UNKNOWN_PLATFORM
    try:
        return limits.platform_name(value)
    except ValueError as bad:
        raise ValueError(f"platform: {bad}") from None


def offline_mention(row: dict[str, Any], created_at: datetime | None = None) -> Mention:
    """The :class:`Mention` a JSONL line stands for (see above); ``created_at`` given: the line's own time, read
    by the caller (a time outside the domain's window is dropped like any unusable time).
    ``ValueError``/``ValidationError`` when the line cannot be classified."""
    from pydantic import ValidationError

    from chalicelib.domain import limits
    from chalicelib.domain.event_times import read_time
    from chalicelib.domain.models import Author, Mention
    from chalicelib.platforms.generic import kind_of

    if not _is_id(row.get("id")) or not isinstance(row.get("text"), str):
        raise ValueError('each line needs an "id" (a non-empty string or an integer) and a string "text"')
    author = row.get("author")
    author = (
        {k: v for k, v in author.items() if k in Author.model_fields and v is not None}
        if isinstance(author, dict)
        else {}
    )
    if created_at is None:
        try:
            created_at = read_time(row.get("created_at"))
        except ValueError:
            created_at = None
    product = row.get("product")
    if isinstance(product, (int, float)) and not isinstance(product, bool):
        product = str(product)  # a numeric product code names it as well as its digits
    in_reply_to = row.get("in_reply_to")
    fields: dict[str, Any] = {
        "platform": platform_name(row.get("platform")),
        "external_id": str(row["id"]),
        "text": row["text"][: limits.MAX_TEXT_CHARS],  # clipped, as every webhook clips it
        "title": row.get("title"),
        "rating": row.get("rating"),
        "url": row.get("url"),
        "created_at": created_at,
        "parent_id": str(in_reply_to) if _is_id(in_reply_to) else None,
        "kind": kind_of(row.get("rating"), in_reply_to),  # as the generic webhook takes the same fields
        "product": product,
        "author": author,
    }
    while True:
        if fields["created_at"] is None:
            fields["created_at"] = datetime.now(timezone.utc)  # nothing in classification reads it
        try:
            return Mention(**fields)
        except ValidationError as error:
            dropped = _drop_ignorable(fields, [tuple(str(part) for part in e["loc"]) for e in error.errors()])
            if not dropped:
                raise


def _is_id(value: Any) -> bool:
    return (isinstance(value, str) and value != "") or (isinstance(value, int) and not isinstance(value, bool))


def _drop_ignorable(fields: dict[str, Any], bad: list[tuple[str, ...]]) -> bool:
    """Drop every bad value nothing in classification reads; False when a bad one is read (the line is refused)."""
    if any(loc[:2] not in IGNORABLE and loc[:1] not in IGNORABLE for loc in bad):
        return False
    for loc in bad:
        if loc[0] == "author":
            fields["author"] = {k: v for k, v in fields["author"].items() if k != loc[1]}
        else:
            fields[loc[0]] = None
    return True


def classified(
    row: dict[str, Any],
    plan: ResponsePlan,
    analyze: Callable[[str], TextSignals],
    created_at: datetime | None = None,
) -> tuple[Mention, Classification]:
    """A JSONL line's mention and its classification, as the live triage classifies it (the same text for the
    model, the same rules)."""
    from chalicelib.domain.classification import classify, model_text

    mention = offline_mention(row, created_at)
    return mention, classify(mention, analyze(model_text(mention)), plan)
