"""social-response: the Chalice application. Thin on purpose: wiring only, logic lives in ``chalicelib``."""

from chalice import Chalice, ConvertToMiddleware, Cron, Rate

from chalicelib.api.approvals import approvals
from chalicelib.api.health import health
from chalicelib.api.methods import answer_other_methods
from chalicelib.api.ops import ops
from chalicelib.api.ops_views import views as ops_views
from chalicelib.api.plans import plans
from chalicelib.api.reports import reports
from chalicelib.api.surveys import surveys
from chalicelib.api.upkeep import upkeep
from chalicelib.api.webhooks import webhooks
from chalicelib.observability import logger, metrics
from chalicelib.settings import (
    APP_NAME,
    MENTION_BATCH_SIZE,
    MENTION_BATCHING_WINDOW_SECONDS,
    check_required_settings,
    issues_stream_arn,
    resources,
)

check_required_settings()  # cold start: a deployed stage without its settings refuses to start (README, Deploy)

app = Chalice(app_name=APP_NAME)
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_blueprint(webhooks)
app.register_blueprint(health)
app.register_blueprint(approvals)
app.register_blueprint(ops)
app.register_blueprint(plans)
app.register_blueprint(ops_views)
app.register_blueprint(reports)
app.register_blueprint(surveys)
app.register_blueprint(upkeep)
answer_other_methods(app)  # after every route: a method a path lacks is a 405 with {"error"}


@app.on_sqs_message(
    queue=resources().ingest_queue,
    batch_size=MENTION_BATCH_SIZE,
    maximum_batching_window_in_seconds=MENTION_BATCHING_WINDOW_SECONDS,
    name="process_mentions",
)
def process_mentions(event):
    """Store each queued mention; failed records are reported back so only they are retried (then DLQ'd)."""
    from chalicelib.bootstrap import pipeline
    from chalicelib.services.processor import process_batch

    return process_batch(event.to_dict(), pipeline())


@app.on_sqs_message(queue=resources().approval_queue, batch_size=10, name="request_approvals")
def request_approvals(event):
    """A protocol step waits for people: record one signed link per person and email it."""
    from chalicelib.bootstrap import approval_dead_letters, approval_deps
    from chalicelib.services.processor import process_approval_requests

    return process_approval_requests(event.to_dict(), approval_deps(), approval_dead_letters())


@app.on_sqs_message(queue=resources().publish_queue, batch_size=5, name="publish_replies")
def publish_replies(event):
    """An approved reply goes out; the protocol resumes to resolve the issue."""
    from chalicelib.bootstrap import approval_deps, publish_dead_letters, redelivery
    from chalicelib.services.processor import process_publish_requests

    return process_publish_requests(event.to_dict(), approval_deps(), redelivery(), publish_dead_letters())


@app.on_dynamodb_record(stream_arn=issues_stream_arn(), batch_size=25, name="start_protocols")
def start_protocols(event):
    """New or escalated issues start their category's protocol (Step Functions) and alert (SNS).

    One reader of the issues stream does both: DynamoDB streams serve two readers at most.
    """
    from datetime import datetime, timezone

    from chalicelib.bootstrap import alerts, plan_store, protocol_runs
    from chalicelib.services.monitoring import alert_issue_records
    from chalicelib.services.protocols import start_protocols as start

    records = event.to_dict()["Records"]
    plan, version = plan_store().active()
    # Alerts first: each is claimed once, so the stream's retry of a batch whose protocol start failed sends none
    # twice, and people hear of a High Priority issue even while its protocol cannot start.
    raised = alert_issue_records(records, plan, alerts(), datetime.now(timezone.utc))
    started = start(records, plan, version, resources(), protocol_runs())
    logger.info("issues changed", extra={"executions": started, "alerts": dict(raised)})
    # Follow-ups: a resolved issue with a published reply gets its survey; a new issue is linked to the one it repeats.
    from chalicelib.bootstrap import issues, recurrence_index, survey_deps
    from chalicelib.services.recurrence import link_recurrences
    from chalicelib.services.surveys import schedule_surveys

    surveyed = schedule_surveys(records, plan, survey_deps(), datetime.now(timezone.utc))
    recurred, _ = link_recurrences(records, plan, issues(), recurrence_index())
    logger.info("issue follow-ups", extra={"surveys": dict(surveyed), "recurrence": dict(recurred)})


@app.schedule(Rate(5, unit=Rate.MINUTES), name="check_slas")
def check_slas(event):
    """SLA warnings before, and breaches at, each live issue's deadlines."""
    from datetime import datetime, timezone

    from chalicelib.bootstrap import alerts, live_issues, plan_store
    from chalicelib.services.monitoring import check_slas as check

    plan, _ = plan_store().active()
    logger.info("sla check", extra=dict(check(datetime.now(timezone.utc), live_issues(), alerts(), plan)))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="check_dead_letter_queues")
def check_dead_letter_queues(event):
    """Messages that failed five times sit in a DLQ: someone must look."""
    from datetime import datetime, timezone

    from chalicelib.bootstrap import alerts, queue_depths
    from chalicelib.services.monitoring import check_dead_letter_queues as check

    logger.info("dlq check", extra=dict(check(datetime.now(timezone.utc), alerts(), resources(), queue_depths().depth)))


@app.schedule(Cron(5, "*", "*", "*", "?", "*"), name="send_alert_digest")
def send_alert_digest(event):
    """The alerts held back by the hourly cap, in one message."""
    from datetime import datetime, timezone

    from chalicelib.bootstrap import alerts
    from chalicelib.services.monitoring import send_last_hours_digest

    send_last_hours_digest(datetime.now(timezone.utc), alerts())
