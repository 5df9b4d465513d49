"""What ``make run`` prints: the replay's summary, where to look next, and, while it serves, each approval link as
it is emailed, each alert, each published reply, each survey link and each recurrence. Everything is read from the
stack (``inspection``); every line goes through ``echo`` (``print`` by default)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

# the one definition, shared with the CLI: authors' words reach a terminal through it
from chalicelib.domain.text_safety import printable as printable
from infra.local.common import STAGE

if TYPE_CHECKING:
    from infra.local.stack import LocalStack

STARTING = "Starting the local stack (moto, resources, worker, API) ..."
REPLAYING = "\nReplaying the sample stream (demo/sample_stream.jsonl) over HTTP ..."
SERVING = (
    "\nServing. Press Ctrl-C to stop everything. Approval emails, published replies, survey links and recurrences "
    "appear below as they happen; open a link in your browser to act on a step or answer a survey."
)
STOPPED = "\nStopped: moto, worker and API are down."


def _safe(echo: Callable[[str], object]) -> Callable[[str], None]:
    """``echo`` for one line of the console, every line made :func:`printable` first."""

    def echo_printable(line: str) -> None:
        echo(printable(line))

    return echo_printable


class Announcer:
    """Prints what people would see as it happens: each approval link as it is emailed, each reply published.

    Links are rebuilt from the approvals table with the run's signing key: the same links the emails carry
    (which moto keeps at /moto-api/data.json; polling that endpoint re-serializes all of moto's state, so not here).
    """

    def __init__(self, stack: LocalStack, echo=print) -> None:
        self.stack, self.echo = stack, _safe(echo)  # authors' words are printed: never their control characters
        self.approvals_seen: set[str] = set()
        self.replies_seen: set[str] = set()
        self.surveys_seen: set[str] = set()
        self.recurrences_seen: set[str] = set()

    def poll(self) -> None:
        from chalicelib.domain.links import link_path
        from chalicelib.settings import Resources

        names = Resources.for_stage(STAGE)
        # A link is printed once its email went out (an approval whose send failed is owed, not yet sent).
        fresh = [
            a
            for a in self.stack.scan(names.approvals_table)
            if "person" in a and a.get("send_state", "sent") == "sent" and a["approval_id"] not in self.approvals_seen
        ]
        routine = 0
        for approval in sorted(fresh, key=lambda a: a["created_at"]):
            self.approvals_seen.add(approval["approval_id"])
            link = self.stack.base_url + link_path(
                self.stack.secrets["LINK_SIGNING_KEY"],
                approval["approval_id"],
                approval["person"],
                int(approval["expires_at"]),
            )
            if approval["protocol"] == "routine":  # many: one line each, the link on it
                routine += 1
                self.echo(f"  email to {approval['person']}: routine issue {approval['issue_id']} {link}")
                continue
            self.echo(
                f"  email to {approval['person']}: {approval['step']} ({approval['attempt']}), "
                f"{approval['protocol'].replace('_', ' ')} issue {approval['issue_id']}"
            )
            self.echo(f"    {link}")
        if routine:
            self.echo(
                f"  ({routine} approval emails to customer service for routine issues above; all mail is at "
                f"{self.stack.moto_url}/moto-api/data.json)"
            )
        for alert in self.stack.alerts_received():
            attributes = {k: v["StringValue"] for k, v in alert.get("MessageAttributes", {}).items()}
            try:
                body = json.loads(alert["Body"])
            except ValueError:
                body = {"subject": alert["Body"][:100]}
            # the attributes a message carries (a weekly report's announcement has only its kind)
            labels = " ".join(
                f"{name}={attributes[name]}" for name in ("kind", "severity", "category", "team") if name in attributes
            )
            self.echo(f"  ALERT on SNS [{labels}]: {body.get('subject') or body.get('message', '')[:100]}")
        for reply in self.stack.scan(names.outbox_table):
            if reply["outbox_id"] not in self.replies_seen:
                self.replies_seen.add(reply["outbox_id"])
                if str(reply.get("approved_by", "")).startswith("system:"):
                    continue  # a survey's message: its link is printed below
                where = (
                    f"platform id {reply.get('platform_id', '?')}"
                    if reply.get("delivered_to") == "platform"
                    else "outbox"
                )
                self.echo(
                    f"  published {reply['channel'].replace('_', ' ')} on {reply['platform']} ({where}) "
                    f"to {reply.get('recipient') or 'the author'} (issue {reply['issue_id']}): "
                    f'"{reply["text"][:90]}"'
                )
        self.announce_surveys_and_recurrences(names)

    def announce_surveys_and_recurrences(self, names) -> None:
        """Each survey link once it went out (rebuilt with the run's signing key, like the approval links), and
        each new issue linked to the resolved issue it repeats."""
        from chalicelib.domain.survey import link_path as survey_link_path

        for survey in self.stack.scan(names.surveys_table):
            survey_id = survey.get("survey_id")
            if (
                not str(survey.get("pk", "")).startswith("survey#")
                or survey.get("status") == "owed"
                or survey_id in self.surveys_seen
            ):
                continue
            self.surveys_seen.add(survey_id)
            if survey.get("status") == "undeliverable":
                self.echo(f"  survey for issue {survey['issue_id']} not sent: {survey['platform']} refused it")
                continue
            link = self.stack.base_url + survey_link_path(
                self.stack.secrets["LINK_SIGNING_KEY"], survey_id, survey["author"], int(survey["expires_at"])
            )
            self.echo(
                f"  survey to {survey.get('recipient') or survey['author']} on {survey['platform']} "
                f"({survey['channel'].replace('_', ' ')}), issue {survey['issue_id']}"
            )
            self.echo(f"    {link}   (open it in a browser to answer, 1 to 5)")
        for issue in self.stack.issues():
            if issue.get("recurs_issue_id") and issue["issue_id"] not in self.recurrences_seen:
                self.recurrences_seen.add(issue["issue_id"])
                self.echo(
                    f"  recurring: {issue['issue_id']} repeats {issue['recurs_issue_id']} "
                    f"({str(issue['recurrence_rule']).replace('_', ' ')}, "
                    f"{int(issue['recurrence_gap_seconds']) // 60} min after it was resolved)"
                )


def summarize(report, items: list[dict], echo=print) -> None:
    echo = _safe(echo)
    by_platform = Counter(item["platform"] for item in items)
    by_status = Counter(item.get("status") for item in items)
    sent = sum(report.statuses.values())
    echo("")
    echo(
        f"Replayed {sent} deliveries: "
        + ", ".join(f"{n}x HTTP {s}" for s, n in sorted(report.statuses.items()))
        + f"; {report.retries} were platform re-deliveries."
    )
    echo(f"Forged delivery (signed with a guessed secret) -> HTTP {report.forged_status}: refused, nothing stored.")
    echo(f"Stored {len(items)} mentions in DynamoDB (re-deliveries absorbed, none stored twice):")
    for platform, count in sorted(by_platform.items()):
        echo(f"  {platform:<12} {count:>4}")
    echo("  by status:   " + ", ".join(f"{status} {count}" for status, count in sorted(by_status.items())))
    edited = [item for item in items if item.get("edited_at")]
    if edited:
        echo(f'  edited:      {edited[0]["pk"]} now reads "{edited[0]["text"][-60:]}"')


def summarize_issues(issues: list[dict], mentions: list[dict], echo=print) -> None:
    echo = _safe(echo)
    triaged = Counter(item.get("category", "(edit/removal only)") for item in mentions)
    echo("")
    echo("Triage (plan v1): " + ", ".join(f"{count} {category}" for category, count in triaged.most_common()))
    echo(f"Issues opened: {len(issues)} (folding {sum(int(i['mention_count']) for i in issues)} mentions)")
    rows = Counter((i["category"], i.get("team", "-"), i["severity"]) for i in issues)
    for (category, team, severity), count in sorted(rows.items()):
        echo(f"  {category:<17} {severity:<9} -> {team:<17} {count:>4}")
    biggest = sorted(issues, key=lambda i: (-int(i["mention_count"]), i["issue_id"]))[:2]
    urgent = [i for i in issues if i["category"] in ("high_priority", "crisis")][:3]
    for title, selection in (("Largest (folded duplicates):", biggest), ("High Priority and Crisis:", urgent)):
        echo(f"  {title}")
        for issue in selection:
            echo(
                f"    {issue['issue_id']}  {int(issue['mention_count'])} mentions, reach {int(issue['reach'])}, "
                f"{issue['severity']}, assigned to {issue.get('assigned_to', '-')}"
            )
            echo(f"      {issue['description'][:110]}")


def where_to_look(stack: LocalStack, echo=print) -> None:
    from chalicelib.settings import Resources

    names = Resources.for_stage(STAGE)
    echo = _safe(echo)
    echo("")
    echo("Where to look next:")
    echo(f"  {stack.api_url}/health                      the API's readiness")
    echo(f"  {stack.worker_url}/status                      what the worker processed")
    echo(f"  {stack.moto_url}/moto-api/                    moto's dashboard (tables, queues, emails)")
    echo(f"  AWS_ENDPOINT_URL={stack.moto_url} aws dynamodb scan --table-name {names.mentions_table}")
    echo(f"  AWS_ENDPOINT_URL={stack.moto_url} aws dynamodb scan --table-name {names.issues_table}")
    echo(f'  curl -H "Authorization: Bearer $OPS_ADMIN_TOKEN" "{stack.api_url}/issues?status=open"   the ops API')
    echo(f"  {stack.api_url}/openapi.json                the ops API's OpenAPI document")
    echo("  .run/local-secrets.env   the secrets this run signs with (OPS_ADMIN_TOKEN too);  .run/logs/   logs")
