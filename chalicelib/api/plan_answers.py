"""What the plan routes (:mod:`chalicelib.api.plans`) parse and answer; loaded by a handler or ``/openapi.json``, not
with the app."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.domain.plan import MAX_STORED_PLAN_BYTES
from chalicelib.services.plan_check import PlanProblem

MAX_PLAN_BYTES = 256 * 1024  # the request; what may be stored is MAX_STORED_PLAN_BYTES (YAML and document), less


class PlanUpload(BaseModel):
    yaml: str = Field(
        min_length=1,
        max_length=MAX_PLAN_BYTES,
        description=f"the plan, as YAML; with the document read from it at most {MAX_STORED_PLAN_BYTES:,} bytes to "
        "store (else 413)",
    )


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
