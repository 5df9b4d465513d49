"""The response plan: a brand's categories, teams, SLAs, triage rules, protocols and catalogue, as data.

Plans are written in YAML (``chalicelib/plans/default.yaml`` is the bundled one), validated here with pydantic,
stored versioned in DynamoDB (``adapters/plans_table.py``) and read by triage as the *active* version. Every cross
reference (a rule's category, a category's team, a protocol step's people) is checked on load, so a plan that
would misroute an issue is refused with a message naming the place, never half-applied.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.domain import limits
from chalicelib.domain.business_hours import WEEKDAYS, BusinessHours, TeamHours, zone
from chalicelib.domain.protocol_messages import CHANNELS, PUBLIC_REPLY
from chalicelib.domain.text_safety import subject_line
from chalicelib.domain.validation import describe_validation_error

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
# Bounds that keep every name compiled from a protocol within Step Functions' 80 characters: its state machine
# (social-response-<stage>-protocol-<name>, for stages of up to 14 characters) and its states (<step>.<suffix>, the
# longest ".escalated_reminder_<n>" with n at most one more than the on_timeout actions).
PROTOCOL_NAME_MAX = 40
STEP_NAME_MAX = 50
ON_TIMEOUT_MAX = 10
BRAND_MAX_CHARS = 100  # the brand heads email subjects ("<brand> weekly report ...") and SNS subjects (100 at most)
_NOT_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # control characters, line/paragraph separators


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_ORDER = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class _Strict(BaseModel):
    # allow_inf_nan=False: a YAML .inf or .nan is stored as JSON null, so a plan holding one could not be read back
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# -- bounds on the durations that feed date arithmetic ------------------------------------------------------------
# Each is added to a datetime (an SLA's due time, a dedup key's window, the review's due day ...): past datetime's
# range (year 9999) that raises OverflowError, and every mention triaged under the plan went to the dead-letter
# queue. The bounds are far beyond what a real plan needs and well inside datetime's range from any date a plan
# is used on: a year for an SLA, a step's timer (a Step Functions execution lasts at most a year, so a longer
# timer never fires) and a dedup window (a complaint a year later is a new one); ten years between reviews.
MAX_SLA_MINUTES = 365 * 24 * 60  # 525,600: one year
MAX_WINDOW_HOURS = 365 * 24  # 8,760: one year
MAX_REVIEW_EVERY_DAYS = 3650  # ten years


def _stored_within(high: float):
    """A version stored before its bound: the bound instead of a value past it (a stored ``.inf`` reads as null),
    so triage keeps reading the active plan and no longer overflows; an upload past the bound is refused."""

    def clamp(value: Any, info: ValidationInfo) -> Any:
        if not (info.context or {}).get("stored"):
            return value
        if value is None:
            return high
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not value <= high:  # NaN too
            return high
        return value

    return BeforeValidator(clamp)


def _bounded(high: float, description: str) -> Any:
    """Positive, at most ``high``, finite (``.inf`` and ``.nan`` refused)."""
    return Field(gt=0, le=high, allow_inf_nan=False, description=description)


# Spelled out (not built by a function) so type checkers see them as the types they are.
SlaMinutes = Annotated[
    int, _bounded(MAX_SLA_MINUTES, f"minutes, at most {MAX_SLA_MINUTES:,} (a year)"), _stored_within(MAX_SLA_MINUTES)
]
WindowHours = Annotated[
    float,
    _bounded(MAX_WINDOW_HOURS, f"hours, at most {MAX_WINDOW_HOURS:,} (a year)"),
    _stored_within(MAX_WINDOW_HOURS),
]
ReviewEveryDays = Annotated[
    int,
    _bounded(MAX_REVIEW_EVERY_DAYS, f"days, at most {MAX_REVIEW_EVERY_DAYS:,} (ten years)"),
    _stored_within(MAX_REVIEW_EVERY_DAYS),
]


class Member(_Strict):
    name: str
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Team(_Strict):
    name: str
    members: list[Member] = Field(min_length=1)
    lead: str | None = None  # an email among members; first member when absent
    business_hours: BusinessHours | None = None  # the team's working week; the plan's business_hours when absent

    @model_validator(mode="after")
    def _lead_is_a_member(self) -> Team:
        if self.lead and self.lead not in {m.email for m in self.members}:
            raise ValueError(f"lead {self.lead} is not a member of the team")
        return self


class Sla(_Strict):
    first_response_minutes: SlaMinutes
    resolution_minutes: SlaMinutes


# -- surveys and recurrence (issue 10; domain/survey.py, domain/recurrence.py) ------------------------------
class SurveySettings(_Strict):
    """A category's satisfaction survey: whether the author of a resolved issue is asked, how long after the
    resolution (``delay_minutes``), where (the first of ``channels`` the platform allows), with which words, and
    how long the link stays open (``window_days``; unanswered by then is recorded as unanswered)."""

    send: bool = False
    delay_minutes: int = Field(default=60, ge=0, le=30 * 24 * 60)
    window_days: int = Field(default=14, gt=0, le=90)
    channels: list[Annotated[str, Field(pattern=r"^(private_reply|public_reply|email)$")]] = Field(
        default_factory=lambda: ["private_reply", "public_reply"], min_length=1
    )
    question: str = Field(
        default="How happy are you with how we handled this, from 1 to 5?", min_length=1, max_length=200
    )
    message: str = Field(default="Thanks for letting us help.", min_length=1, max_length=300)


class RecurrenceSettings(_Strict):
    """A new issue recurs when a resolved issue of the last ``window_days`` has its author, its product and
    topic, or near-duplicate text (``domain/recurrence.py``)."""

    window_days: int = Field(default=30, gt=0, le=365)


class Category(_Strict):
    label: str
    description: str = ""
    team: Identifier | None = None  # None: nobody is assigned (No Action)
    notify: list[Identifier] = Field(default_factory=list)  # teams told about a new issue (alerts)
    sla: Sla | None = None
    opens_issue: bool = True
    follow_up_required: bool = False
    escalation_case: bool = False  # High Priority and Crisis: a case record PR and management work in
    protocol: Identifier | None = None
    survey: SurveySettings = Field(default_factory=SurveySettings)  # the satisfaction survey (domain/survey.py)


def _platform_names(value: Any) -> Any:
    """A plan names platforms as senders do ("Google Play"): stored as the webhook stores them (google-play)."""
    if isinstance(value, str):
        return value if value == ANY_PLATFORM else limits.platform_name(value)
    if isinstance(value, list):
        return [_platform_names(each) for each in value]
    return value


ANY_PLATFORM = "any"


class Condition(_Strict):
    """All given fields must hold. Signals come from the text model, the author and the platform."""

    complaint: bool | None = None
    complaint_score_gte: float | None = Field(default=None, ge=0, le=1)
    sentiment_lte: float | None = Field(default=None, ge=-1, le=1)
    sentiment_gte: float | None = Field(default=None, ge=-1, le=1)
    topic_in: list[str] | None = None
    risk_flags_any: list[str] | None = None
    followers_gte: int | None = Field(default=None, ge=0)
    verified: bool | None = None
    known_partner: bool | None = None
    known_influencer: bool | None = None
    rating_lte: float | None = None
    rating_gte: float | None = None
    platform_in: list[str] | None = None
    kind_in: list[str] | None = None
    product_named: bool | None = None
    text_matches: str | None = None  # a case-insensitive regular expression

    _platforms = field_validator("platform_in", mode="before")(_platform_names)

    @field_validator("text_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from error
        return value


class Rule(_Strict):
    name: str
    when: Condition = Field(default_factory=Condition)
    category: Identifier
    severity: Severity


class TimeoutAction(StrEnum):
    REMIND = "remind"  # email the same people again, keep waiting
    ESCALATE = "escalate"  # hand the step to the backup
    ALERT = "alert"  # alert on SNS and keep waiting on the backup


class StepAction(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    APPROVE = "approve"
    RESPOND = "respond"


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    EDITED = "edited"


# The outcomes that move a run on to the next step (or to Publish after the last).
PROCEEDING_OUTCOMES = (Outcome.SUBMITTED, Outcome.APPROVED, Outcome.EDITED)


class ProtocolStep(_Strict):
    name: Identifier
    role: str
    action: StepAction
    team: Identifier | None = None
    people: list[str] = Field(default_factory=list)  # emails; added to the team's members
    backup: list[str] = Field(default_factory=list)  # emails who get the step when it times out
    sla_minutes: SlaMinutes
    on_timeout: list[TimeoutAction] = Field(default_factory=lambda: [TimeoutAction.ESCALATE, TimeoutAction.ALERT])
    outcomes: list[Outcome] = Field(min_length=1)
    on_reject: Identifier | None = None  # the step a rejection returns to (with the reviewer's comment)

    @model_validator(mode="after")
    def _has_people(self) -> ProtocolStep:
        if not self.team and not self.people:
            raise ValueError("a step needs a team or people")
        if Outcome.REJECTED in self.outcomes and not self.on_reject:
            raise ValueError("a step that can reject must say where a rejection returns (on_reject)")
        return self


class Protocol(_Strict):
    label: str
    steps: list[ProtocolStep] = Field(min_length=1)
    # who gets the protocol's monthly review reminder (default: the leads of its steps' teams)
    owners: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(default_factory=list)
    # where the approved reply goes unless a drafting step chooses otherwise: public_reply, private_reply
    publish: list[str] = Field(default_factory=lambda: [PUBLIC_REPLY])

    @field_validator("publish")
    @classmethod
    def _publish_channels(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """At least one channel, each one that exists, once: an empty list resolved issues without a reply, and a
        misspelt channel was published nowhere."""
        if (info.context or {}).get("stored"):  # a version stored before this check: read as it is, never refused
            return value
        names = ", ".join(CHANNELS)
        if not value:
            raise ValueError(f"a protocol publishes its reply on at least one channel: {names}")
        unknown = sorted({channel for channel in value if channel not in CHANNELS})
        if unknown:
            raise ValueError(f"unknown channel {', '.join(map(repr, unknown))}: the channels are {names}")
        if len(set(value)) != len(value):
            raise ValueError("each channel is listed once")
        return value

    @model_validator(mode="after")
    def _steps_link_up(self) -> Protocol:
        names = [step.name for step in self.steps]
        if len(set(names)) != len(names):
            raise ValueError("step names must be unique")
        for step in self.steps:
            if step.on_reject and step.on_reject not in names[: names.index(step.name)]:
                raise ValueError(f"step {step.name}: on_reject must name an earlier step, not {step.on_reject}")
        return self


class Product(_Strict):
    name: str
    aliases: tuple[str, ...] = ()


class KnownAccount(_Strict):
    platform: str
    handle: str
    kind: Annotated[str, Field(pattern=r"^(partner|influencer|journalist|competitor)$")]
    name: str = ""

    _platform = field_validator("platform", mode="before")(_platform_names)


class DedupSettings(_Strict):
    author_window_hours: WindowHours = 24
    text_window_hours: WindowHours = 48
    text_similarity: float = Field(default=0.6, gt=0, le=1)


class SurgeAlertBudget(_Strict):
    """How many unexplained surge alerts one key of each kind may raise per two weeks. Each key's threshold is
    calibrated on its own history so that, replayed over it, it would have raised no more
    (``chalicelib.domain.surge``). A lower budget alerts less and later; 0 allows nothing the key's history holds."""

    brand: float = Field(default=3.0, ge=0, le=100)
    product: float = Field(default=2.0, ge=0, le=100)
    topic: float = Field(default=2.0, ge=0, le=100)

    def per_kind(self) -> dict[str, float]:
        """``{"brand": 3.0, "product": 2.0, "topic": 2.0}``: what the surge configs take."""
        return {"brand": self.brand, "product": self.product, "topic": self.topic}


class Review(_Strict):
    reviewed_by: str
    reviewed_on: date
    review_every_days: ReviewEveryDays = 90  # quarterly unless the plan says otherwise

    @model_validator(mode="after")
    def _not_in_the_future(self, info: ValidationInfo) -> Review:
        """At most tomorrow (UTC), as ``POST /plans/{version}/review`` allows: a review held in 9999 put the due
        day past the calendar and the daily review check failed every run. ``context["today"]`` sets the day.
        (On the review, not its field: ``plan validate`` then reports it once, in place of the review.)"""
        context = info.context or {}
        if context.get("stored"):  # a version stored before this check: read as it is, never refused
            return self
        today = context.get("today") or datetime.now(timezone.utc).date()
        tomorrow = today + timedelta(days=1)
        if self.reviewed_on > tomorrow:
            raise ValueError(
                f"reviewed_on: {self.reviewed_on.isoformat()} is in the future (a review held at most tomorrow, "
                f"{tomorrow.isoformat()}, UTC)"
            )
        return self

    def overdue(self, today: date) -> bool:
        return (today - self.reviewed_on).days > self.review_every_days


class Retention(_Strict):
    """How long personal data is kept (DynamoDB TTL, set on write). Issues, their audit trail and reports stay."""

    mentions_days: int = Field(default=90, gt=0, le=3650, description="raw mentions, from when they were posted")
    dedup_keys_days: int = Field(
        default=7, gt=0, le=3650, description="dedup keys, after their matching window has closed"
    )


class ReportSettings(_Strict):
    """The weekly report: who gets it, and when (the first hour of ``day`` at ``hour`` in ``time_zone``, for the
    ISO week before, counted in the same time zone)."""

    recipients: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(default_factory=list)
    day: Annotated[str, Field(pattern="^(" + "|".join(WEEKDAYS) + ")$")] = "mon"
    hour: int = Field(default=8, ge=0, le=23)
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


class Voice(_Strict):
    """How the brand sounds in a reply: shown to whoever drafts, reviews or approves one (a reply out of line with
    the brand can hurt as much as no reply). ``categories`` adds guidance for one category's replies."""

    tone: str = Field(min_length=1, max_length=500)
    do: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)
    categories: dict[Identifier, str] = Field(default_factory=dict)

    def guidance(self, category: str) -> list[str]:
        """The lines a responder sees for ``category``: its own guidance first, then the brand's tone."""
        lines = [self.categories[category]] if category in self.categories else []
        return [
            *lines,
            f"Tone: {self.tone}",
            *(f"Do: {item}" for item in self.do),
            *(f"Avoid: {item}" for item in self.avoid),
        ]


class ResponsePlan(_Strict):
    """One version of a brand's plan. ``version`` is assigned by the store on upload."""

    brand: str = Field(max_length=BRAND_MAX_CHARS)  # one line, trimmed (a YAML folded "brand: >" ends in a newline)
    brand_handles: list[str] = Field(default_factory=list)
    description: str = ""
    review: Review
    teams: dict[Identifier, Team]
    categories: dict[Identifier, Category]
    default_category: Identifier
    default_severity: Severity = Severity.LOW
    rules: list[Rule]
    protocols: dict[Identifier, Protocol] = Field(default_factory=dict)
    products: list[Product] = Field(default_factory=list)
    known_accounts: list[KnownAccount] = Field(default_factory=list)
    influencer_followers: int = Field(default=50_000, ge=0)
    surge_category: Identifier = "crisis"  # the category a detected surge opens
    surge_alert_budget: SurgeAlertBudget = Field(default_factory=SurgeAlertBudget)  # alerts per key per two weeks
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    recurrence: RecurrenceSettings = Field(default_factory=RecurrenceSettings)
    retention: Retention = Field(default_factory=Retention)
    voice: Voice | None = None  # the brand voice guidance on responders' pages and emails
    business_hours: BusinessHours = Field(default_factory=BusinessHours)  # teams without their own hours
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("brand", mode="before")
    @classmethod
    def _brand_is_one_line(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        if (info.context or {}).get("stored"):  # a version stored before this check: made one line, never refused
            return subject_line(value, BRAND_MAX_CHARS)
        value = value.strip()
        if _NOT_IN_A_LINE.search(value):
            raise ValueError(
                "the brand is one line, without line breaks, tabs or control characters "
                "(a literal 'brand: |' block keeps its line breaks: write the brand on the brand: line)"
            )
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> ResponsePlan:
        problems: list[str] = []
        if self.default_category not in self.categories:
            problems.append(f"default_category: unknown category '{self.default_category}'")
        if self.surge_category not in self.categories:
            problems.append(f"surge_category: unknown category '{self.surge_category}'")
        for name, category in self.categories.items():
            for team in [category.team, *category.notify]:
                if team and team not in self.teams:
                    problems.append(f"categories.{name}: unknown team '{team}'")
            if category.protocol and category.protocol not in self.protocols:
                problems.append(f"categories.{name}.protocol: unknown protocol '{category.protocol}'")
            if category.opens_issue and category.team and not category.sla:
                problems.append(f"categories.{name}: a category that opens issues for a team needs an sla")
        for name in self.voice.categories if self.voice else {}:
            if name not in self.categories:
                problems.append(f"voice.categories: unknown category '{name}'")
        for index, rule in enumerate(self.rules):
            if rule.category not in self.categories:
                problems.append(f"rules[{index}] ({rule.name}): unknown category '{rule.category}'")
        for name, protocol in self.protocols.items():
            for step in protocol.steps:
                if step.team and step.team not in self.teams:
                    problems.append(f"protocols.{name}.{step.name}: unknown team '{step.team}'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _protocols_fit_step_functions(self, info: ValidationInfo) -> ResponsePlan:
        """Every protocol compiles to a state machine Step Functions accepts: its names within Step Functions'
        80 characters, every state reachable (a step that can only reject left Publish unreachable). The compiler
        (``adapters/state_machines.py``) checks each definition it makes against the same limits, and a test
        compiles plans at these bounds, so the rule and the compiler cannot drift apart."""
        if (info.context or {}).get("stored"):  # a version stored before this check: read as it is, never refused
            return self
        problems: list[str] = []
        for name, protocol in self.protocols.items():
            if len(name) > PROTOCOL_NAME_MAX:
                problems.append(
                    f"protocols.{name}: a protocol's name is at most {PROTOCOL_NAME_MAX} characters, not {len(name)} "
                    "(its state machine is named social-response-<stage>-protocol-<name>, at most 80 characters)"
                )
            for step in protocol.steps:
                place = f"protocols.{name}.{step.name}"
                if len(step.name) > STEP_NAME_MAX:
                    problems.append(
                        f"{place}: a step's name is at most {STEP_NAME_MAX} characters, not {len(step.name)} "
                        "(its states are named <step>.<what>, at most 80 characters)"
                    )
                if len(step.on_timeout) > ON_TIMEOUT_MAX:
                    problems.append(f"{place}: on_timeout lists at most {ON_TIMEOUT_MAX} actions")
                if not any(outcome in PROCEEDING_OUTCOMES for outcome in step.outcomes):
                    problems.append(
                        f"{place}: no outcome moves on (submitted, approved or edited), so no run gets past the "
                        "step and the reply is never published"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def team_hours(self) -> TeamHours:
        """Each team's working week (for response times in business hours)."""
        return TeamHours(
            default=self.business_hours,
            teams={name: team.business_hours for name, team in self.teams.items() if team.business_hours},
        )

    # -- lookups used by triage ---------------------------------------------------------------------------
    def step_people(self, step: ProtocolStep) -> list[str]:
        team = [m.email for m in self.teams[step.team].members] if step.team else []
        return list(dict.fromkeys(team + step.people))

    def known_account(self, platform: str, handle: str | None) -> KnownAccount | None:
        if not handle:
            return None
        wanted = handle.lstrip("@").lower()
        for account in self.known_accounts:
            if account.handle.lstrip("@").lower() == wanted and account.platform in (platform, ANY_PLATFORM):
                return account
        return None


class PlanError(ValueError):
    """A plan that cannot be used; the message lists every problem with its place."""


# A stored version is one DynamoDB item (at most 400 KB): the YAML as uploaded and the document read from it, with
# room to spare for the other attributes and for a review, which rewrites the document.
MAX_STORED_PLAN_BYTES = 300_000


class PlanTooLarge(PlanError):
    """A plan too large to store (answered 413)."""


def stored_plan_bytes(plan: ResponsePlan, text: str) -> int:
    """What a version of ``plan`` uploaded as ``text`` takes in the store: its YAML in UTF-8 and its document as
    JSON, counted in the larger of the two forms it is written in (``json.dumps`` escapes every non-ASCII
    character and spaces its separators when a review rewrites it)."""
    import json

    return len(text.encode("utf-8")) + len(json.dumps(plan.model_dump(mode="json")).encode("utf-8"))


def check_stored_size(plan: ResponsePlan, text: str) -> None:
    """Raise :class:`PlanTooLarge` naming the limit when the version would not fit its item."""
    size = stored_plan_bytes(plan, text)
    if size > MAX_STORED_PLAN_BYTES:
        raise PlanTooLarge(
            f"the plan is too large to store: its YAML and the document read from it take {size:,} bytes, "
            f"at most {MAX_STORED_PLAN_BYTES:,} are allowed (a stored version is one DynamoDB item of at most "
            "400 KB); shorten its descriptions, messages or catalogue"
        )


def check_reads_back(plan: ResponsePlan) -> None:
    """Raise :class:`PlanError` naming the problem unless the document stored for ``plan`` (its JSON, as the store
    writes it) reads back, the way the store reads it, as the same plan. An upload that would not was stored and
    then every read of the active plan failed (a ``.inf`` is written as null)."""
    import json

    try:
        again = parse_plan(json.loads(plan.model_dump_json()), stored=True)
    except PlanError as error:
        raise PlanError(f"the plan would not read back once stored: {error}") from None
    if again != plan:
        changed = sorted(name for name, value in plan.model_dump().items() if again.model_dump().get(name) != value)
        raise PlanError(f"the plan would not read back once stored as uploaded: {', '.join(changed) or 'plan'} differ")


def parse_plan(document: dict[str, Any], *, stored: bool = False) -> ResponsePlan:
    """The plan of a document; ``stored``: a version read back from the store, which may predate a check added
    since (its brand is then made one line rather than refused, so triage keeps reading the active plan)."""
    try:
        return ResponsePlan.model_validate(document, context={"stored": True} if stored else None)
    except ValidationError as error:
        raise PlanError(describe_validation_error(error, limit=None, root="plan")) from None


# How deep a plan's YAML may nest, in mappings and lists: a plan's deepest (protocols.<name>.steps[i].outcomes) is the
# sixth. Deeper YAML cannot be a plan, and refusing it as it is read keeps PyYAML's recursive composer from running
# into Python's recursion limit (as "[" * 3000 did).
MAX_PLAN_NESTING = 20


def check_yaml_size(text: str) -> None:
    """Raise :class:`PlanTooLarge` naming the limit when ``text`` alone is past what a version may store (its YAML
    and its document together take at most :data:`MAX_STORED_PLAN_BYTES`): checked before the YAML is read, so an
    upload that could never be stored costs no parsing."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_STORED_PLAN_BYTES:
        raise PlanTooLarge(
            f"the plan is too large to store: its YAML alone takes {size:,} bytes, at most {MAX_STORED_PLAN_BYTES:,} "
            "are allowed for its YAML and the document read from it (a stored version is one DynamoDB item of at most "
            "400 KB); shorten its descriptions, messages or catalogue"
        )


@functools.cache
def plan_loader() -> Any:
    """PyYAML's SafeLoader, refusing what a plan never needs and a hostile upload uses to make a few KB cost
    hundreds of MB: anchors and aliases (an alias repeats its anchored node wherever it appears, so a rule of a
    list of aliases repeated by aliases expands multiplicatively: 18 KB read as 360 MB), and nesting past
    :data:`MAX_PLAN_NESTING`. Each is refused as its node is composed, before anything is built, with its line
    (the problem's mark, which :func:`~chalicelib.services.plan_check.plan_problems` reports as its line)."""
    import yaml
    from yaml.composer import ComposerError

    class PlanLoader(yaml.SafeLoader):
        nesting = 0  # not "depth": infra/aws_calls.py reads a data attribute's name as no method call

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            mark: Any = event.start_mark  # a Python mark (PyYAML's stubs allow its C one too)
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                used = (
                    f"an alias (*{event.anchor})"
                    if isinstance(event, yaml.AliasEvent)
                    else f"an anchor (&{event.anchor})"
                )
                raise ComposerError(
                    None,
                    None,
                    f"found {used}: a plan may not use YAML anchors or aliases (&name, *name); write each value out",
                    mark,
                )
            if not isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                return super().compose_node(parent, index)
            if self.nesting >= MAX_PLAN_NESTING:
                raise ComposerError(
                    None,
                    None,
                    f"nested too deeply: a plan's values nest at most {MAX_PLAN_NESTING} levels",
                    mark,
                )
            self.nesting += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.nesting -= 1

    return PlanLoader


def read_yaml(text: str) -> Any:
    """The YAML document of ``text``, or a :class:`PlanError` naming why it cannot be read: its size past what may
    be stored (:class:`PlanTooLarge`, before parsing); PyYAML's own errors, among them anchors, aliases and nesting
    past :data:`MAX_PLAN_NESTING` (:func:`plan_loader`); and what PyYAML raises outside them on hostile input (an
    integer past Python's 4,300-digit conversion limit), so an uploaded plan gets a 400, never a 500."""
    import yaml

    check_yaml_size(text)
    try:
        return yaml.load(text, Loader=plan_loader())  # a SafeLoader: builds no Python objects from tags
    except yaml.YAMLError as error:
        raise PlanError(f"not valid YAML: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise PlanError("not valid YAML: nested too deeply") from None
    except ValueError as error:  # int("9" * 5000): Python refuses integers of more than 4,300 digits
        raise PlanError(f"not valid YAML: {str(error).split(';')[0]}") from None


def load_plan_yaml(text: str) -> ResponsePlan:
    document = read_yaml(text)
    if not isinstance(document, dict):
        raise PlanError("a plan is a YAML mapping (brand, teams, categories, rules ...)")
    return parse_plan(document)
