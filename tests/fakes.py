"""In-memory adapters for the services' unit tests (the real ones are exercised on moto in integration tests)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.models import Mention


class FakeMentionRepository:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def add(self, mention: Mention) -> bool:
        if mention.key in self.items:
            return False
        self.items[mention.key] = {**mention.model_dump(mode="json"), "status": "visible"}
        return True

    def apply_edit(self, mention: Mention) -> None:
        previous = self.items.get(mention.key, {})
        self.items[mention.key] = {
            **mention.model_dump(mode="json"),
            "status": previous.get("status", "visible"),
            "created_at": previous.get("created_at", mention.created_at.isoformat()),
            "edited": True,
        }

    def mark(self, platform: str, external_id: str, status: str) -> None:
        key = f"{platform}#{external_id}"
        self.items[key] = {**self.items.get(key, {"platform": platform, "external_id": external_id}), "status": status}

    def get(self, platform: str, external_id: str) -> dict | None:
        return self.items.get(f"{platform}#{external_id}")


class FakeMentionQueue:
    def __init__(self) -> None:
        self.sent: list[Mention] = []

    def send(self, mentions: Iterable[Mention]) -> int:
        batch = list(mentions)
        self.sent.extend(batch)
        return len(batch)


# ---- approvals engineer's block: approvals, mail, workflows, publishing ------------------------------------------
class FakeApprovals:
    """ApprovalStore in memory: the same single-use and once-per-email rules as the DynamoDB adapter."""

    def __init__(self, issues: FakeApprovalIssues) -> None:
        self.items: dict[str, Any] = {}
        self.tokens: dict[str, dict[str, Any]] = {}  # token_ref -> {"task_token", "approvals", "status", ...}
        self.sent: set[str] = set()
        self.sending: set[str] = set()
        self.owed: dict[str, dict] = {}  # approval id -> the callback recorded with its answer, not passed on yet
        self.owed_at: dict[str, datetime] = {}  # approval id -> when its answer was recorded
        self.issues = issues

    def record_request(self, approvals: list, task_token: str, execution: str) -> None:
        from chalicelib.domain.links import token_reference
        from chalicelib.services.errors import AlreadyUsed

        ref = token_reference(task_token)
        if ref in self.tokens:
            raise AlreadyUsed("recorded already")
        self.tokens[ref] = {
            "task_token": task_token,
            "approvals": [a.approval_id for a in approvals],
            "status": "pending",
            "booked": False,
            "execution": execution,
        }
        self.items.update((a.approval_id, a) for a in approvals)

    def recorded(self, task_token: str):
        from chalicelib.domain.approval import Recorded
        from chalicelib.domain.links import token_reference

        token = self.tokens[token_reference(task_token)]
        if token["status"] != "pending":
            return Recorded([], booked=True)
        return Recorded([self.get(i) for i in token["approvals"]], booked=token["booked"])

    def mark_booked(self, token_ref: str, now: datetime) -> None:
        self.tokens[token_ref]["booked"] = True

    def claim_email(self, approval, now: datetime) -> str | None:
        current = self.items[approval.approval_id]
        if approval.approval_id in self.sent or current.status != "pending":
            return None
        self.sending.add(approval.approval_id)
        return approval.approval_id

    def email_sent(self, claim: str) -> None:
        self.sending.discard(claim)
        self.sent.add(claim)

    def email_failed(self, claim: str) -> None:
        self.sending.discard(claim)

    def get(self, approval_id: str):
        from dataclasses import replace

        found = self.items.get(approval_id)
        return replace(found, emailed=approval_id in self.sent) if found else None

    def supersede_pending(self, issue_id: str, step: str, keep_token_ref: str, recorded_at: datetime) -> int:
        from dataclasses import replace

        retired = 0
        for key, item in list(self.items.items()):
            if (
                item.issue_id == issue_id
                and item.step == step
                and item.status == "pending"
                and item.token_ref != keep_token_ref
                and datetime.fromisoformat(item.created_at) < recorded_at
            ):
                self.items[key] = replace(item, status="superseded")
                retired += 1
        return retired

    def consume(self, approval, event, callback: dict, now: datetime) -> str:
        from dataclasses import replace

        from chalicelib.services.errors import AlreadyUsed

        token = self.tokens[approval.token_ref]
        if self.items[approval.approval_id].status != "pending" or token["status"] != "pending":
            raise AlreadyUsed("used")
        self.items[approval.approval_id] = replace(self.items[approval.approval_id], status="used", callback_owed=True)
        self.owed[approval.approval_id] = callback
        self.owed_at[approval.approval_id] = now
        token["status"] = "used"
        self.issues.append(event)
        return token["task_token"]

    def owed_callback(self, approval):
        owed = self.owed.get(approval.approval_id)
        return (self.tokens[approval.token_ref]["task_token"], owed) if owed is not None else None

    def owed_since(self, before: datetime):
        return [self.get(key) for key in self.owed if self.owed_at[key] < before]

    def callback_delivered(self, approval) -> None:
        from dataclasses import replace

        self.owed.pop(approval.approval_id, None)
        self.items[approval.approval_id] = replace(self.items[approval.approval_id], callback_owed=False)

    def mark_callback_failed(self, approval, reason: str) -> None:
        self.callback_delivered(approval)

    def execution_of(self, approval) -> str:
        return self.tokens[approval.token_ref]["execution"]


class FakeMailer:
    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_times = fail_times

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("SES is down")
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html})
        return f"msg-{len(self.sent)}"


class FakeWorkflows:
    def __init__(self, unavailable_times: int = 0) -> None:
        self.resumed: list[tuple[str, dict]] = []
        self.failed: list[tuple[str, str, str]] = []
        self.finished: set[str] = set()
        self.unavailable_times = unavailable_times  # resumes refused as Step Functions throttling would
        self.ended_runs: dict[str, str] = {}  # execution -> how it ended (TIMED_OUT, ABORTED, SUCCEEDED ...)
        self.history_unavailable = 0  # answered_with calls that cannot read the run's history (None)

    def ended(self, execution: str) -> str | None:
        return self.ended_runs.get(execution)

    def answered_with(self, execution: str, task_token: str, output: dict) -> bool | None:
        """The run's history: the token's task ended with ``output`` (it was resumed with it), or otherwise."""
        if self.history_unavailable:
            self.history_unavailable -= 1
            return None
        return (task_token, output) in self.resumed

    def resume(self, task_token: str, output: dict) -> None:
        from chalicelib.services.errors import StepCallbackFailed, WorkflowUnavailable

        if self.unavailable_times:
            self.unavailable_times -= 1
            raise WorkflowUnavailable("ThrottlingException")
        if task_token in self.finished:
            raise StepCallbackFailed("TaskTimedOut")
        self.finished.add(task_token)
        self.resumed.append((task_token, output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        from chalicelib.services.errors import StepCallbackFailed

        if task_token in self.finished:
            raise StepCallbackFailed("TaskTimedOut")
        self.finished.add(task_token)
        self.failed.append((task_token, error, cause))


class FakeApprovalIssues:
    """Issues, their mentions and their audit trail (keyed like the table: one event per sort key)."""

    def __init__(self) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.mention_items: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[str, Any] = {}

    def get(self, issue_id: str) -> dict[str, Any] | None:
        return self.issues.get(issue_id)

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return self.mention_items.get(issue_id, [])[:limit]

    def history(self, issue_id: str) -> list[dict[str, Any]]:
        return [
            {"sk": e.sort_key, "at": e.at.isoformat(), "type": e.type, "actor": e.actor, "details": e.details}
            for e in self.events.values()
            if e.issue_id == issue_id
        ]

    def audit_types(self, issue_id: str) -> list[str]:
        return [e["type"] for e in sorted(self.history(issue_id), key=lambda e: e["sk"])]

    def start_work(self, issue_id: str, category: str) -> None:
        issue = self.issues.get(issue_id)
        if issue and issue.get("status") == "open":
            issue["status"] = "in_progress"

    def append(self, event) -> None:
        self.events[event.sort_key] = event

    def record_response(self, issue_id: str, at: datetime) -> None:
        issue = self.issues[issue_id]
        if not issue.get("first_response_at"):
            issue["first_response_at"] = at.isoformat()


class FakeAlerts:
    def __init__(self) -> None:
        self.raised: dict[str, Any] = {}

    def raise_alert(self, alert, now: datetime) -> str:
        if alert.dedup_key in self.raised:
            return "duplicate"
        self.raised[alert.dedup_key] = alert
        return "sent"


class FakeReplyPublisher:
    """ReplyPublisher in memory. ``script`` lists results to answer, in order, for a (platform, channel); without
    one a post goes out (once per run and channel, like the claims). ``posts`` is what the platform holds."""

    def __init__(self, limits: dict[tuple[str, str], int] | None = None) -> None:
        self.posts: dict[str, Any] = {}  # claim key -> the post
        self.settled: dict[str, Any] = {}
        self.script: dict[tuple[str, str], list] = {}
        self.limits = limits or {("x", "public_reply"): 280}
        self.calls = 0

    def publish(self, post, now: datetime):
        from chalicelib.domain.publishing import Next, done

        self.calls += 1
        key = f"{post.run}|{post.channel}"
        if key in self.posts:
            return done(self.posts[key]["id"], self.posts[key]["at"]).as_repeat()
        if key in self.settled:
            return self.settled[key].as_repeat()
        queued = self.script.get((post.target.platform, post.channel))
        result = queued.pop(0) if queued else None
        if result is None or result.next is Next.DONE:
            at = result.published_at if result and result.published_at else now
            self.posts[key] = {"id": f"{post.target.platform}-{len(self.posts) + 1}", "at": at, "post": post}
            return done(self.posts[key]["id"], at)
        if result.next is not Next.RETRY:
            self.settled[key] = result
        return result

    def length_limit(self, platform: str, channel: str) -> int | None:
        return self.limits.get((platform, channel))

    def replies_for(self, issue_id: str) -> list[dict[str, Any]]:
        sent = [p for p in self.posts.values() if p["post"].issue_id == issue_id]
        return [
            {
                "text": p["post"].text,
                "channel": p["post"].channel,
                "approved_by": p["post"].approved_by,
                "published_at": p["at"].isoformat(),
            }
            for p in sorted(sent, key=lambda p: p["at"], reverse=True)
        ]

    def recent(self, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "text": p["post"].text,
                "issue_id": p["post"].issue_id,
                "category": p["post"].category,
                "topic": p["post"].topic,
                "products": list(p["post"].products),
                "channel": p["post"].channel,
                "published_at": p["at"].isoformat(),
            }
            for p in reversed(list(self.posts.values()))
        ]


# ---- surveys & recurrence engineer's block -----------------------------------------------------------------------
class FakeSurveyStore:
    """SurveyStore in memory, with the table's rules: one survey per issue, a send claim (owed -> sending -> sent,
    given back on failure), an answer only while sent and unexpired, unanswered once."""

    def __init__(self) -> None:
        from chalicelib.domain.survey import Survey

        self.surveys: dict[str, Survey] = {}
        self.by_issue: dict[str, str] = {}
        self.send_state: dict[str, str] = {}
        self.notices: dict[str, str] = {}  # survey id -> owed | sent
        self.issue_fields: dict[str, dict[str, Any]] = {}
        self.events: list[Any] = []

    def schedule(self, survey) -> bool:
        if survey.issue_id in self.by_issue:
            return False
        self.by_issue[survey.issue_id] = survey.survey_id
        self.surveys[survey.survey_id] = survey
        self.send_state[survey.survey_id] = "owed"
        return True

    def get(self, survey_id: str):
        return self.surveys.get(survey_id)

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        from chalicelib.domain.survey import SurveyStatus

        out = [
            ("send", s.survey_id) for s in self.surveys.values() if s.status is SurveyStatus.OWED and s.due_at <= now
        ]
        out += [
            ("close", s.survey_id)
            for s in self.surveys.values()
            if s.status is SurveyStatus.SENT and s.expires_at <= now.timestamp()
        ]
        return out + [("notify", survey_id) for survey_id, state in self.notices.items() if state == "owed"]

    def claim_send(self, survey_id: str, now: datetime) -> object | None:
        if self.send_state.get(survey_id) != "owed":
            return None
        self.send_state[survey_id] = "sending"
        return survey_id

    def sent(self, claim: object, at: datetime) -> None:
        from chalicelib.domain.survey import SurveyStatus

        survey_id = str(claim)
        self.send_state[survey_id] = "sent"
        self.surveys[survey_id] = self.surveys[survey_id].model_copy(update={"status": SurveyStatus.SENT})

    def give_back(self, claim: object) -> None:
        self.send_state[str(claim)] = "owed"

    def undeliverable(self, claim: object, at: datetime) -> None:
        from chalicelib.domain.survey import SurveyStatus

        survey_id = str(claim)
        self.send_state[survey_id] = "undeliverable"
        self.surveys[survey_id] = self.surveys[survey_id].model_copy(update={"status": SurveyStatus.UNDELIVERABLE})

    def record_answer(self, survey, answer, at: datetime, event) -> None:
        from chalicelib.domain.survey import SurveyClosed, SurveyStatus, outcome

        current = self.surveys[survey.survey_id]
        if current.status is not SurveyStatus.SENT or current.expires_at <= at.timestamp():
            raise SurveyClosed(survey.survey_id)
        self.surveys[survey.survey_id] = current.model_copy(
            update={
                "status": SurveyStatus.ANSWERED,
                "rating": answer.rating,
                "comment": answer.comment,
                "answered_at": at,
            }
        )
        self.issue_fields[survey.issue_id] = {"satisfaction": outcome(answer.rating), "rating": answer.rating}
        self.events.append(event)
        self.notices[survey.survey_id] = "owed"

    def record_unanswered(self, survey, event) -> bool:
        from chalicelib.domain.survey import SurveyStatus

        current = self.surveys[survey.survey_id]
        if current.status is not SurveyStatus.SENT:
            return False
        self.surveys[survey.survey_id] = current.model_copy(update={"status": SurveyStatus.UNANSWERED})
        self.issue_fields.setdefault(survey.issue_id, {"satisfaction": "unanswered"})
        self.events.append(event)
        return True


class FakeSurveySender:
    """Records what it sent; ``failures`` sends raise first (as SES or a platform would); ``refuse`` names a
    reason the channel refuses every survey for good (``SurveyUndeliverable``)."""

    def __init__(self, failures: int = 0, refuse: str = "") -> None:
        self.failures, self.refuse = failures, refuse
        self.sent: list[tuple[Any, str, str, str]] = []
        self.mentions: list[dict[str, Any]] = []

    def send(self, survey, mention: dict[str, Any], subject: str, text: str, html: str, now: datetime) -> str:
        from chalicelib.domain.survey import SurveyUndeliverable

        if self.refuse:
            raise SurveyUndeliverable(self.refuse)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("send failed (injected)")
        self.mentions.append(mention)
        self.sent.append((survey, subject, text, html))
        return f"sent-{len(self.sent)}"


class FakeSurveyNotices:
    """Publishes each answered survey's event once (``store.notices``' claim); ``failures`` publishes raise first."""

    def __init__(self, store: FakeSurveyStore, failures: int = 0) -> None:
        self.store, self.failures = store, failures
        self.published: list[Any] = []

    def announce(self, survey, now: datetime) -> str:
        if self.store.notices.get(survey.survey_id) != "owed":
            return "duplicate"
        if self.failures:
            self.failures -= 1
            raise ConnectionError("publish failed (injected)")
        self.store.notices[survey.survey_id] = "sent"
        self.published.append(survey)
        return "sent"


class FakeRecurrenceIndex:
    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.links: dict[str, Any] = {}
        self.events: list[Any] = []

    def remember(self, facts, keys: list[str], until: datetime) -> None:
        for key in keys:
            if key not in self.keys or self.keys[key].at <= facts.at:
                self.keys[key] = facts

    def lookup(self, keys: list[str]) -> dict[str, Any]:
        return {key: self.keys[key] for key in keys if key in self.keys}

    def link(self, link, event) -> bool:
        if link.issue_id in self.links:
            return False
        self.links[link.issue_id] = link
        self.events.append(event)
        return True


# ---- report engineer's block: the weekly report ----------------------------------------------------------------
class FakeReportIssues:
    """Issues as the issues table keeps them (plain dicts), found by the UTC day first seen, and their trails."""

    def __init__(self, issues: list[dict], history: dict[str, list[dict]] | None = None) -> None:
        self.issues, self.trails = issues, history or {}
        self.days_read: list[tuple[str, str]] = []

    def first_seen_between(self, first_day: str, last_day: str) -> list[dict]:
        self.days_read.append((first_day, last_day))
        return [i for i in self.issues if first_day <= str(i["first_seen"])[:10] <= last_day]

    def live_or_settled_since(self, categories: list[str], since_day: str) -> list[dict]:
        def wanted(issue: dict) -> bool:
            if str(issue.get("status") or "open") in ("open", "in_progress"):
                return True
            return any(str(issue.get(name) or "") >= since_day for name in ("resolved_at", "closed_at"))

        return [i for i in self.issues if i.get("category") in categories and wanted(i)]

    def history(self, issue_id: str) -> list[dict]:
        return self.trails.get(issue_id, [])


class FakeReportStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.writes: list[str] = []

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (body, content_type)
        self.writes.append(key)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def files(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def link(self, key: str, seconds: int) -> str:
        return f"https://reports.example/{key}?expires={seconds}&signature=secret"


class FakeLinkUses:
    """Each link's single use, as the adapter's conditional write keeps it."""

    def __init__(self) -> None:
        self.uses: dict[str, int] = {}

    def used(self, key: str) -> bool:
        return key in self.uses

    def use_once(self, key: str, expires_at: int, now: datetime) -> bool:
        if key in self.uses:
            return False
        self.uses[key] = expires_at
        return True


class FakeReportSender:
    """Sends each key once (the adapter's claims); ``fail_for``: recipients whose next email fails once."""

    def __init__(self, fail_for: set[str] | None = None) -> None:
        self.sent: dict[str, tuple] = {}
        self.fail_for = set(fail_for or ())

    def email_once(self, key, to, subject, text, html, inline, now) -> bool:
        if key in self.sent:
            return False
        if to in self.fail_for:
            self.fail_for.discard(to)
            raise ConnectionError("SES is down")
        self.sent[key] = (to, subject, text, html, inline)
        return True

    def announce_once(self, key, subject, message, now) -> bool:
        if key in self.sent:
            return False
        self.sent[key] = (subject, message)
        return True


class FakeReportRenderer:
    """What the renderer makes, without drawing: the report's JSON, one 'chart', an HTML naming it."""

    def render(self, report, rows, api_base_url):
        from chalicelib.domain.report import ReportFiles

        png = b"\x89PNG fake"
        stored = {
            "report.json": (report.model_dump_json().encode(), "application/json"),
            "report.html": (b"<img src=data:image/png;base64,...>", "text/html"),
            "report.csv": (str(len(rows)).encode(), "text/csv"),
            "chart-volume.png": (png, "image/png"),
        }
        return ReportFiles(
            stored=stored,
            disk=dict(stored),
            email_html='<img src="cid:chart-volume">',
            text=f"{report.week}",
            inline={"chart-volume": png},
        )


# ---- surge engineer's block: surge counters and states, the Crisis they open ------------------------------------
class FakeSurgeHistory:
    """What one read of :class:`FakeSurgeStore` returned (a snapshot, like the adapter's ``SurgeHistory``)."""

    def __init__(self, days: dict, mentions: dict, firsts: list, states: dict) -> None:
        self.days, self.linked, self.firsts, self.states = days, mentions, firsts, states

    def day_items(self, key):
        return [{"day": day, **fields} for (k, day), fields in sorted(self.days.items()) if k == key]

    def mentions(self, key, limit=100):
        out: list[str] = []
        for (k, _hour), ids in sorted(self.linked.items(), key=lambda item: item[0][1], reverse=True):
            if k == key:
                out += list(reversed(ids))
        return out[:limit]

    def data_start(self):
        return min(self.firsts) if self.firsts else None

    def state(self, key):
        from chalicelib.domain.surge import SurgeState

        return self.states.get(key, (SurgeState(), 0, None))


class FakeSurgeStore:
    """Counters per (key, day) with hourly and 5-minute fields; a batch (its set of mentions) is counted once; a
    state is saved only at the version read, else :class:`StateConflict` (as the conditional put)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self.linked: dict[tuple[str, str], list[str]] = {}
        self.first_ts: dict[str, float] = {}
        self.batches: set[frozenset[str]] = set()
        self.states: dict[str, tuple] = {}  # key -> (SurgeState, version, issue_id)
        self.conflict_on: set[str] = set()  # keys whose next save loses the race (another processor wrote first)
        self.prefetches: list[
            tuple
        ] = []  # (keys, days, hours, at) as told; an in-memory store has nothing to read early

    def prefetch(self, keys, days, hours, at=None):
        self.prefetches.append((list(keys), list(days), list(hours), at))

    def add(self, observations):
        from chalicelib.domain.surge import counter_fields, day_of, hour_of

        batch = frozenset(o.mention for o in observations)
        if batch in self.batches:
            return 0
        self.batches.add(batch)
        for o in observations:
            day = day_of(o.at)
            self.first_ts[day] = min(self.first_ts.get(day, o.at), o.at)
            for key in o.keys:
                fields = self.counts.setdefault((key, day), {})
                for name in counter_fields(o.at):
                    fields[name] = fields.get(name, 0) + 1
                self.linked.setdefault((key, hour_of(o.at)), []).append(o.mention)
        return 2

    def read(self, keys, days, hours, at=None):
        wanted_days = set(days)
        return FakeSurgeHistory(
            {(k, d): dict(f) for (k, d), f in self.counts.items() if k in keys and d in wanted_days},
            {(k, h): list(ids) for (k, h), ids in self.linked.items() if k in keys and h in set(hours)},
            [ts for day, ts in self.first_ts.items() if day in wanted_days],
            {k: v for k, v in self.states.items() if k in keys},
        )

    def save_state(self, key, state, expected_version, issue_id=None):
        from chalicelib.services.errors import StateConflict

        current = self.states.get(key, (None, 0, None))[1]
        if key in self.conflict_on or current != expected_version:
            self.conflict_on.discard(key)
            raise StateConflict(key)
        self.states[key] = (state, expected_version + 1, issue_id)
        return expected_version + 1


class FakeCrisisIssues:
    """Issues opened once by id (a second open of the same id writes nothing), and the audit appended."""

    def __init__(self) -> None:
        self.issues: dict[str, object] = {}
        self.linked: dict[str, list[str]] = {}
        self.cases: dict[str, object] = {}
        self.audit: list = []

    def open_issue(self, issue, audit, case, linked_mentions):
        if issue.issue_id in self.issues:
            return False
        self.issues[issue.issue_id] = issue
        self.linked[issue.issue_id] = list(linked_mentions)
        self.cases[issue.issue_id] = case
        self.audit += list(audit)
        return True

    def append_audit(self, event):
        self.audit.append(event)

    def first_existing(self, issue_ids):
        return next((i for i in issue_ids if i in self.issues), None)


class FakeActivePlan:
    """The bundled plan, version 1."""

    def active(self):
        from pathlib import Path

        import chalicelib
        from chalicelib.domain.plan import load_plan_yaml

        text = (Path(chalicelib.__file__).parent / "plans" / "default.yaml").read_text(encoding="utf-8")
        return load_plan_yaml(text), 1
