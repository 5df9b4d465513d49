"""social-response: the Chalice application. Thin on purpose: wiring only, logic lives in ``chalicelib``."""

from chalice import Chalice, ConvertToMiddleware

from chalicelib.api.approvals import approvals
from chalicelib.api.health import health
from chalicelib.api.webhooks import webhooks
from chalicelib.observability import logger, metrics
from chalicelib.settings import APP_NAME, issues_stream_arn, resources

app = Chalice(app_name=APP_NAME)
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_blueprint(webhooks)
app.register_blueprint(health)
app.register_blueprint(approvals)


@app.on_sqs_message(queue=resources().ingest_queue, batch_size=10, name="process_mentions")
def process_mentions(event):
    """Store each queued mention; failed records are reported back so only they are retried (then DLQ'd)."""
    from chalicelib.services.processor import process_batch

    return process_batch(event.to_dict())


@app.on_sqs_message(queue=resources().approval_queue, batch_size=10, name="request_approvals")
def request_approvals(event):
    """A protocol step waits for people: record one signed link per person and email it."""
    from chalicelib.services.processor import process_approval_requests

    return process_approval_requests(event.to_dict())


@app.on_sqs_message(queue=resources().publish_queue, batch_size=5, name="publish_replies")
def publish_replies(event):
    """An approved reply goes out; the protocol resumes to resolve the issue."""
    from chalicelib.services.processor import process_publish_requests

    return process_publish_requests(event.to_dict())


@app.on_dynamodb_record(stream_arn=issues_stream_arn(), batch_size=25, name="start_protocols")
def start_protocols(event):
    """New or escalated issues start their category's protocol (Step Functions)."""
    from chalicelib.api.dependencies import plan_store
    from chalicelib.adapters.workflows import StepFunctionsWorkflows
    from chalicelib.services.protocols import start_protocols as start

    plan, version = plan_store().active()
    started = start(event.to_dict()["Records"], plan, version, resources(), StepFunctionsWorkflows())
    logger.info("protocols started", extra={"executions": started})
