"""Response plans over the ops API: list the versions, read one (retired ones too, with their YAML), validate an
upload (400 listing every problem with its line, 413 too large to store), upload a new version (it becomes active,
the previous one is retired; the active version's YAML again answers that version and writes nothing), activate a
stored version, retire one, record a review. Each change is an audit event under ``plan`` with the token's name as
actor."""

from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib.api.auth import ops_route
from chalicelib.api.responses import error_response, json_response
from chalicelib.domain.roles import Role

plans = Blueprint(__name__)

VERSION = re.compile(r"^[0-9]{1,8}$")


def _parse(model):
    from chalicelib.api.ops import BadInput, body

    try:
        return body(model), None
    except BadInput as bad:
        return None, error_response(400, str(bad))


def _problems_answer(text: str):
    from chalicelib.api.plan_answers import PlanProblems
    from chalicelib.services.plan_check import plan_problems

    problems = plan_problems(text)
    if not problems:
        return None
    listed = "; ".join(f"line {p.line}: {p.place}: {p.problem}" for p in problems)
    return json_response(
        PlanProblems(error=f"the plan has {len(problems)} problem(s): {listed}", problems=problems).model_dump(
            mode="json"
        ),
        400,
    )


@ops_route(
    plans,
    "/plans",
    "GET",
    Role.VIEWER,
    "List the plan versions and their status",
    answer="chalicelib.api.plan_answers:PlanVersions",
)
def list_plans():
    from chalicelib.api.plan_answers import PlanVersions
    from chalicelib.bootstrap import plan_store

    versions = sorted(plan_store().versions(), key=lambda v: v["version"])
    return json_response(PlanVersions(items=versions).model_dump(mode="json"))


@ops_route(
    plans,
    "/plans/{version}",
    "GET",
    Role.VIEWER,
    "One plan version with its YAML (retired ones too)",
    answer="chalicelib.api.plan_answers:PlanDetail",
    errors=(404,),
)
def show_plan(version: str):
    from chalicelib.api.plan_answers import PlanDetail
    from chalicelib.bootstrap import plan_lifecycle

    if not VERSION.match(version):
        return error_response(400, "version: a number")
    found = plan_lifecycle().get(int(version))
    if found is None:
        return error_response(404, f"no plan version {version}")
    return json_response(PlanDetail.model_validate(found).model_dump(mode="json"))


def _plan_change(version: str, change):
    """Run a version change for the caller: the answer, or the 400/404/409 naming the problem."""
    from datetime import datetime, timezone

    from chalicelib.api.auth import caller
    from chalicelib.bootstrap import plan_lifecycle
    from chalicelib.domain.plan_upkeep import PlanVersionConflict, PlanVersionMissing

    if not VERSION.match(version):
        return error_response(400, "version: a number")
    try:
        done = change(int(version), caller().name, plan_lifecycle(), datetime.now(timezone.utc))
    except PlanVersionMissing as missing:
        return error_response(404, str(missing))
    except PlanVersionConflict as conflict:
        return error_response(409, str(conflict))
    except ValueError as bad:
        return error_response(400, str(bad))
    return json_response(done.model_dump(mode="json"))


@ops_route(
    plans,
    "/plans/{version}/activate",
    "POST",
    Role.ADMIN,
    "Make a stored version the active plan (the active one is retired)",
    answer="chalicelib.services.upkeep:PlanChange",
    errors=(404, 409),
)
def activate_plan(version: str):
    from chalicelib.services.upkeep import activate_version

    return _plan_change(version, activate_version)


@ops_route(
    plans,
    "/plans/{version}/retire",
    "POST",
    Role.ADMIN,
    "Retire a version that is not the active one (it stays readable)",
    answer="chalicelib.services.upkeep:PlanChange",
    errors=(404, 409),
)
def retire_plan(version: str):
    from chalicelib.services.upkeep import retire_version

    return _plan_change(version, retire_version)


@ops_route(
    plans,
    "/plans/{version}/review",
    "POST",
    Role.ADMIN,
    "Record a review of the plan: its review block moves to that day (an audit event)",
    body="chalicelib.services.upkeep:ReviewBody",
    answer="chalicelib.services.upkeep:PlanChange",
    errors=(404, 409),
)
def review_plan(version: str):
    from chalicelib.services.upkeep import ReviewBody, record_review

    review, refused = _parse(ReviewBody)
    if refused:
        return refused
    return _plan_change(version, lambda number, actor, store, now: record_review(number, review, actor, store, now))


def _parse_valid_plan(model):
    """The body as ``model`` and the plan it carries checked: ``(body, plan, None)``, or ``(None, None, the 400
    answer)``: a problem in the plan, listed with its line (YAML anchors and aliases among them: refused as read,
    before they are expanded); or the 413 naming the limit of a plan too large to store
    (:data:`~chalicelib.domain.plan.MAX_STORED_PLAN_BYTES`, its YAML and its document): its YAML alone before it
    is parsed, with its document before the read-back check, which writes and reads the whole document again."""
    from chalicelib.api.plan_answers import PlanProblems
    from chalicelib.domain.plan import (
        PlanError,
        PlanTooLarge,
        check_reads_back,
        check_stored_size,
        check_yaml_size,
        load_plan_yaml,
    )
    from chalicelib.services.plan_check import PlanProblem

    upload, refused = _parse(model)
    if refused:
        return None, None, refused
    try:
        check_yaml_size(upload.yaml)
    except PlanTooLarge as large:
        return None, None, error_response(413, str(large))
    refused = _problems_answer(upload.yaml)
    if refused:
        return None, None, refused
    plan = load_plan_yaml(upload.yaml)
    try:
        check_stored_size(plan, upload.yaml)
    except PlanTooLarge as large:
        return None, None, error_response(413, str(large))
    try:
        check_reads_back(plan)  # the store reads the document it writes: an upload it could not read is refused
    except PlanError as unreadable:
        problem = PlanProblem(line=1, place="plan", problem=str(unreadable))
        return None, None, json_response(PlanProblems(error=str(unreadable), problems=[problem]).model_dump(), 400)
    return upload, plan, None


@ops_route(
    plans,
    "/plans/validate",
    "POST",
    Role.VIEWER,
    "Validate a plan: 400 listing every problem with its line; 413 too large to store",
    body="chalicelib.api.plan_answers:PlanUpload",
    answer="chalicelib.api.plan_answers:PlanValidation",
    errors=(413,),
    invalid="chalicelib.api.plan_answers:PlanProblems",
)
def validate_plan():
    from datetime import date

    from chalicelib.api.plan_answers import PlanUpload, PlanValidation

    _, plan, refused = _parse_valid_plan(PlanUpload)
    if refused:
        return refused
    return json_response(
        PlanValidation(
            valid=True,
            brand=plan.brand,
            categories=len(plan.categories),
            rules=len(plan.rules),
            protocols=len(plan.protocols),
            review_overdue=plan.review.overdue(date.today()),
        ).model_dump(mode="json")
    )


@ops_route(
    plans,
    "/plans",
    "POST",
    Role.ADMIN,
    "Upload a plan: it becomes the active version (the active version's YAML again: that version, nothing written)",
    body="chalicelib.api.plan_answers:PlanUploadedBy",
    answer="chalicelib.api.plan_answers:Uploaded",
    status=201,
    errors=(409, 413),
    invalid="chalicelib.api.plan_answers:PlanProblems",
)
def upload_plan():
    from chalicelib.api.auth import caller
    from chalicelib.api.plan_answers import PlanUploadedBy, Uploaded
    from chalicelib.bootstrap import plan_store
    from chalicelib.domain.plan import PlanTooLarge
    from chalicelib.services.errors import PlanConflict

    upload, _, refused = _parse_valid_plan(PlanUploadedBy)
    if refused:
        return refused
    # A retry (the YAML of the active version exactly) stores nothing and answers as the first upload did: 201 and
    # that version, so a client that timed out and tries again gets the answer it missed, not a second version.
    try:
        version = plan_store().upload(upload.yaml, upload.uploaded_by or caller().name)
    except PlanConflict as conflict:
        return error_response(409, str(conflict))
    except PlanTooLarge as large:  # checked above already; the store checks again, as the CLI's upload relies on
        return error_response(413, str(large))
    return json_response(Uploaded(version=version).model_dump(mode="json"), 201)
