"""Response plans over the ops API: list the versions, read one (retired ones too, with their YAML), validate an
upload (400 listing every problem with its line), upload a new version (it becomes active, the previous one is
retired), activate a stored version, retire one, record a review. Each change is an audit event under ``plan``
with the token's name as actor."""

from __future__ import annotations

import re

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api.auth import ops_route
from chalicelib.api.responses import error_response, json_response
from chalicelib.domain.ops import Role
from chalicelib.services.plan_check import PlanProblem

plans = Blueprint(__name__)

VERSION = re.compile(r"^[0-9]{1,8}$")
MAX_PLAN_BYTES = 256 * 1024


class PlanUpload(BaseModel):
    yaml: str = Field(min_length=1, max_length=MAX_PLAN_BYTES, description="the plan, as YAML")


class PlanUploadedBy(PlanUpload):
    uploaded_by: str | None = Field(
        None, min_length=1, max_length=254, description="kept with the version (default: the token's name)"
    )


class PlanVersion(BaseModel):
    version: int
    status: str
    uploaded_by: str
    uploaded_at: str
    reviewed_by: str
    reviewed_on: str


class PlanDetail(PlanVersion):
    yaml: str = Field(description="the plan as uploaded")


class PlanVersions(BaseModel):
    items: list[PlanVersion]


class PlanValidation(BaseModel):
    valid: bool
    brand: str
    categories: int
    rules: int
    protocols: int
    review_overdue: bool


class PlanProblems(BaseModel):
    error: str
    problems: list[PlanProblem]


class Uploaded(BaseModel):
    version: int


def _parse(model):
    from chalicelib.api.ops import BadInput, body

    try:
        return body(model), None
    except BadInput as bad:
        return None, error_response(400, str(bad))


def _problems_answer(text: str):
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


@ops_route(plans, "/plans", "GET", Role.VIEWER, "List the plan versions and their status", answer=PlanVersions)
def list_plans():
    from chalicelib.bootstrap import plan_store

    versions = sorted(plan_store().versions(), key=lambda v: v["version"])
    return json_response(PlanVersions(items=versions).model_dump(mode="json"))


@ops_route(
    plans,
    "/plans/{version}",
    "GET",
    Role.VIEWER,
    "One plan version with its YAML (retired ones too)",
    answer=PlanDetail,
    errors=(404,),
)
def show_plan(version: str):
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
    """The body as ``model`` and the plan it carries checked: ``(body, None)``, or ``(None, the 400 answer)``."""
    upload, refused = _parse(model)
    if refused:
        return None, refused
    return upload, _problems_answer(upload.yaml)


@ops_route(
    plans,
    "/plans/validate",
    "POST",
    Role.VIEWER,
    "Validate a plan: 400 listing every problem with its line",
    body=PlanUpload,
    answer=PlanValidation,
    invalid=PlanProblems,
)
def validate_plan():
    from datetime import date

    from chalicelib.domain.plan import load_plan_yaml

    upload, refused = _parse_valid_plan(PlanUpload)
    if refused:
        return refused
    plan = load_plan_yaml(upload.yaml)
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
    "Upload a plan: it becomes the active version",
    body=PlanUploadedBy,
    answer=Uploaded,
    status=201,
    errors=(409,),
    invalid=PlanProblems,
)
def upload_plan():
    from chalicelib.api.auth import caller
    from chalicelib.bootstrap import plan_store
    from chalicelib.services.errors import PlanConflict

    upload, refused = _parse_valid_plan(PlanUploadedBy)
    if refused:
        return refused
    try:
        version = plan_store().upload(upload.yaml, upload.uploaded_by or caller().name)
    except PlanConflict as conflict:
        return error_response(409, str(conflict))
    return json_response(Uploaded(version=version).model_dump(mode="json"), 201)
