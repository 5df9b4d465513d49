"""What ``make run`` prints: the replay's summary, where to look next, and, while it serves, each approval link as
it is emailed, each alert and each published reply. Everything is read from the stack (``inspection``); every line
goes through ``echo`` (``print`` by default)."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from infra.local.common import STAGE

if TYPE_CHECKING:
    from infra.local.stack import LocalStack

STARTING = "Starting the local stack (moto, resources, worker, API) ..."
REPLAYING = "\nReplaying the sample stream (demo/sample_stream.jsonl) over HTTP ..."
SERVING = (
    "\nServing. Press Ctrl-C to stop everything. Approval emails and published replies appear below as they "
    "happen; open a link in your browser to act on a step."
)
STOPPED = "\nStopped: moto, worker and API are down."


class Announcer:
    """Prints what people would see as it happens: each approval link as it is emailed, each reply published.

    Links are rebuilt from the approvals table with the run's signing key: the same links the emails carry
    (which moto keeps at /moto-api/data.json; polling that endpoint re-serializes all of moto's state, so not here).
    """

    def __init__(self, stack: LocalStack, echo=print) -> None:
        self.stack, self.echo = stack, echo
        self.approvals_seen: set[str] = set()
        self.replies_seen: set[str] = set()

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
            if approval["protocol"] == "routine":
                routine += 1
                continue
            link = self.stack.base_url + link_path(
                self.stack.secrets["LINK_SIGNING_KEY"],
                approval["approval_id"],
                approval["person"],
                int(approval["expires_at"]),
            )
            self.echo(
                f"  email to {approval['person']}: {approval['step']} ({approval['attempt']}), "
                f"{approval['protocol'].replace('_', ' ')} issue {approval['issue_id']}"
            )
            self.echo(f"    {link}")
        if routine:
            self.echo(
                f"  ({routine} approval emails to customer service for routine issues; all mail is at "
                f"{self.stack.moto_url}/moto-api/data.json)"
            )
        for alert in self.stack.alerts_received():
            attributes = {k: v["StringValue"] for k, v in alert.get("MessageAttributes", {}).items()}
            try:
                body = json.loads(alert["Body"])
            except ValueError:
                body = {"subject": alert["Body"][:100]}
            self.echo(
                f"  ALERT on SNS [kind={attributes.get('kind')} severity={attributes.get('severity')} "
                f"category={attributes.get('category')} team={attributes.get('team')}]: "
                f"{body.get('subject') or body.get('message', '')[:100]}"
            )
        for reply in self.stack.scan(names.outbox_table):
            if reply["outbox_id"] not in self.replies_seen:
                self.replies_seen.add(reply["outbox_id"])
                self.echo(
                    f"  outbox: {reply['channel']} to {reply['platform']} {reply['recipient']} "
                    f'(issue {reply["issue_id"]}): "{reply["text"][:90]}"'
                )


def summarize(report, items: list[dict], echo=print) -> None:
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
