"""In-memory adapters for the services' unit tests (the real ones are exercised on moto in integration tests)."""

from __future__ import annotations

from collections.abc import Iterable

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
        self.items[mention.key] = {**mention.model_dump(mode="json"), "status": previous.get("status", "visible"),
                                   "created_at": previous.get("created_at", mention.created_at.isoformat()),
                                   "edited": True}

    def mark(self, platform: str, external_id: str, status: str) -> None:
        key = f"{platform}#{external_id}"
        self.items[key] = {**self.items.get(key, {"platform": platform, "external_id": external_id}),
                           "status": status}

    def get(self, platform: str, external_id: str) -> dict | None:
        return self.items.get(f"{platform}#{external_id}")


class FakeMentionQueue:
    def __init__(self) -> None:
        self.sent: list[Mention] = []

    def send(self, mentions: Iterable[Mention]) -> int:
        batch = list(mentions)
        self.sent.extend(batch)
        return len(batch)


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

        out = [("send", s.survey_id) for s in self.surveys.values()
               if s.status is SurveyStatus.OWED and s.due_at <= now]
        out += [("close", s.survey_id) for s in self.surveys.values()
                if s.status is SurveyStatus.SENT and s.expires_at <= now.timestamp()]
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

    def record_answer(self, survey, answer, at: datetime, event) -> None:
        from chalicelib.domain.survey import SurveyClosed, SurveyStatus, outcome

        current = self.surveys[survey.survey_id]
        if current.status is not SurveyStatus.SENT or current.expires_at <= at.timestamp():
            raise SurveyClosed(survey.survey_id)
        self.surveys[survey.survey_id] = current.model_copy(update={
            "status": SurveyStatus.ANSWERED, "rating": answer.rating, "comment": answer.comment, "answered_at": at})
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
    """Records what it sent; ``failures`` sends raise first (as SES or a platform would)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[Any, str, str, str]] = []

    def send(self, survey, subject: str, text: str, html: str) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("send failed (injected)")
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
        stored = {"report.json": (report.model_dump_json().encode(), "application/json"),
                  "report.html": (b"<img src=data:image/png;base64,...>", "text/html"),
                  "report.csv": (str(len(rows)).encode(), "text/csv"), "chart-volume.png": (png, "image/png")}
        return ReportFiles(stored=stored, disk=dict(stored), email_html='<img src="cid:chart-volume">',
                           text=f"{report.week}", inline={"chart-volume": png})
